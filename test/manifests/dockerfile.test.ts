/**
 * The Dockerfile, read statically (no Docker engine here): multi-stage on Node 24, production dependencies
 * only, non-root, and an image that holds everything `node bin/infermesh.js` loads.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { copyOperands, dockerIgnores, execForm, parseDockerfile, parseStream, REPO, type Instruction } from './support.ts';

const dockerfile = parseDockerfile(readFileSync(path.join(REPO, 'Dockerfile'), 'utf8'));
const dockerignore = readFileSync(path.join(REPO, '.dockerignore'), 'utf8');
const packageJson = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  allowScripts?: Record<string, boolean>;
};
const lockfile = JSON.parse(readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean; hasInstallScript?: boolean }>;
};

interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

const stages: Stage[] = [];
for (const instruction of dockerfile) {
  if (instruction.keyword === 'FROM') {
    const [image = '', as, name] = instruction.args.split(/\s+/);
    stages.push({ image, ...(as?.toUpperCase() === 'AS' && name ? { name } : {}), instructions: [] });
  } else {
    stages.at(-1)?.instructions.push(instruction);
  }
}
const [build, runtime] = stages;
const final = stages.at(-1);
const inStage = (stage: Stage | undefined, keyword: string) => stage?.instructions.filter((i) => i.keyword === keyword) ?? [];

/** The control plane container in manifests/base, which runs this image. */
function manifestContainer(): { args: string[]; ports: number[] } {
  const [deployment] = parseStream(readFileSync(path.join(REPO, 'manifests/base/deployment.yaml'), 'utf8'), 'deployment.yaml');
  const { spec } = deployment as { spec: { template: { spec: { containers: { args: string[]; ports: { containerPort: number }[] }[] } } } };
  const [container] = spec.template.spec.containers;
  return { args: container?.args ?? [], ports: container?.ports.map((p) => p.containerPort) ?? [] };
}

describe('Dockerfile', () => {
  it('is multi-stage: dependencies on node:24 (Debian 12), runtime on distroless Node 24 (Debian 12)', () => {
    expect(stages).toHaveLength(2);
    expect(build?.image).toMatch(/^node:24-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
    expect(build?.name).toBeDefined();
    expect(runtime?.image).toMatch(/^gcr\.io\/distroless\/nodejs24-debian12:nonroot(@sha256:[0-9a-f]{64})?$/);
    expect(final).toBe(runtime);
  });

  it('installs production dependencies only, from the lockfile, without install scripts', () => {
    const runs = inStage(build, 'RUN').map((i) => i.args);
    const install = runs.find((r) => /\bnpm ci\b/.test(r));
    expect(install).toBeDefined();
    expect(install).toContain('--omit=dev');
    expect(install).toContain('--ignore-scripts');
    expect(runs.some((r) => /\bnpm (install|i)\b/.test(r))).toBe(false);
    // Only the manifests are in the stage before `npm ci`, so source edits do not re-run the install.
    const copies = inStage(build, 'COPY').map((i) => copyOperands(i.args).sources);
    expect(copies).toEqual([['package.json', 'package-lock.json']]);
  });

  it('skips no install script the runtime needs: they are exactly package.json allowScripts, dev-only or protobufjs', () => {
    const withScripts = Object.entries(lockfile.packages)
      .filter(([, entry]) => entry.hasInstallScript)
      .map(([location, entry]) => ({ name: location.replace(/^.*node_modules\//, ''), dev: entry.dev === true }));
    expect(withScripts.map((p) => p.name).sort()).toEqual(Object.keys(packageJson.allowScripts ?? {}).sort());
    // protobufjs's postinstall only warns about version ranges of packages depending on it.
    expect(withScripts.filter((p) => !p.dev).map((p) => p.name)).toEqual(['protobufjs']);
    const postinstall = readFileSync(path.join(REPO, 'node_modules/protobufjs/scripts/postinstall.js'), 'utf8');
    expect(postinstall).not.toMatch(/writeFile|execSync|spawn|child_process/);
  });

  it('runs as a numeric non-root user', () => {
    const users = inStage(final, 'USER').map((i) => i.args);
    expect(users.length).toBeGreaterThan(0);
    const [uid, gid] = (users.at(-1) ?? '').split(':');
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    if (gid !== undefined) expect(Number(gid)).toBeGreaterThan(0);
    expect(uid).toBe('65532'); // the user manifests/base runs the pod as
  });

  it('starts node on bin/infermesh.js (exec form, PID 1), serving by default with the ports the manifests use', () => {
    expect(inStage(final, 'WORKDIR').at(-1)?.args).toBe('/app');
    expect(execForm(inStage(final, 'ENTRYPOINT').at(-1)?.args ?? '')).toEqual(['/nodejs/bin/node', 'bin/infermesh.js']);
    const cmd = execForm(inStage(final, 'CMD').at(-1)?.args ?? '');
    const container = manifestContainer();
    expect(cmd?.[0]).toBe('serve');
    expect(cmd).toEqual(container.args);
    const exposed = inStage(final, 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).map((p) => Number(p.replace(/\/tcp$/, '')));
    expect(exposed.sort()).toEqual([...container.ports].sort());
  });

  it('labels the image with OCI annotations', () => {
    const labels = inStage(final, 'LABEL').map((i) => i.args).join(' ');
    for (const key of ['title', 'description', 'version', 'licenses', 'source']) expect(labels).toContain(`org.opencontainers.image.${key}=`);
    expect(labels).toContain('org.opencontainers.image.licenses="Apache-2.0"');
  });

  it('copies only paths that exist and are in the build context, and node_modules only from the dependency stage', () => {
    for (const stage of stages) {
      for (const copy of inStage(stage, 'COPY').map((i) => copyOperands(i.args))) {
        if (copy.flags['from'] !== undefined) {
          expect(copy.flags['from']).toBe(build?.name);
          expect(copy.sources).toEqual(['/app/node_modules']);
          continue;
        }
        for (const source of copy.sources) {
          expect(existsSync(path.join(REPO, source)), `COPY ${source}`).toBe(true);
          expect(dockerIgnores(dockerignore, source), `${source} is left out of the build context by .dockerignore`).toBe(false);
        }
      }
    }
    const copied = inStage(final, 'COPY').flatMap((i) => copyOperands(i.args).sources);
    expect(copied).toEqual(expect.arrayContaining(['package.json', 'bin', 'src', 'protos', 'envoy']));
    expect(copied.some((s) => /^(test|examples|manifests|demo|scripts)\b/.test(s))).toBe(false);
    expect(inStage(final, 'ADD')).toEqual([]);
  });
});

describe('.dockerignore', () => {
  it('leaves node_modules, tests, .git, coverage and local secrets out of the build context', () => {
    for (const file of ['node_modules', 'node_modules/yaml/package.json', 'src/node_modules/x.js', 'test', 'test/smoke.test.ts', '.git/config', 'coverage/index.html', '.env', 'examples/basic/bert-policy.yaml', 'manifests/base/rbac.yaml', 'src/cli/main.test.ts']) {
      expect(dockerIgnores(dockerignore, file), file).toBe(true);
    }
  });

  it('keeps what the image needs', () => {
    for (const file of ['package.json', 'package-lock.json', 'bin/infermesh.js', 'src/cli/main.ts', 'src/envoy/protos.ts', 'protos/envoy-roots.json', 'envoy/bootstrap.yaml']) {
      expect(dockerIgnores(dockerignore, file), file).toBe(false);
    }
  });
});

describe('what the image runs', () => {
  const copied = inStage(final, 'COPY')
    .map((i) => copyOperands(i.args))
    .filter((c) => c.flags['from'] === undefined)
    .flatMap((c) => c.sources.map((source) => path.normalize(source)));
  const sources = ['bin', 'src'].flatMap((dir) =>
    readdirSync(path.join(REPO, dir), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && /\.(ts|js)$/.test(e.name))
      .map((e) => path.join(e.parentPath, e.name)),
  );

  /** Module specifiers a file loads at run time: `import type` and `export type` are erased by type stripping. */
  function runtimeImports(file: string): string[] {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const found: string[] = [];
    const visit = (node: ts.Node): void => {
      if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly && ts.isStringLiteral(node.moduleSpecifier)) found.push(node.moduleSpecifier.text);
      if (ts.isExportDeclaration(node) && !node.isTypeOnly && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) found.push(node.moduleSpecifier.text);
      if (ts.isCallExpression(node) && node.arguments.length === 1) {
        const [argument] = node.arguments;
        const callee = node.expression.getText(source);
        const dynamic = node.expression.kind === ts.SyntaxKind.ImportKeyword || callee === 'require' || callee === 'require.resolve';
        if (dynamic && argument && ts.isStringLiteral(argument)) found.push(argument.text);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
    return found;
  }

  const packageName = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

  it('loads no relative module outside the copied folders', () => {
    expect(sources.length).toBeGreaterThan(20);
    for (const file of sources) {
      for (const specifier of runtimeImports(file).filter((s) => s.startsWith('.'))) {
        const target = path.relative(REPO, path.resolve(path.dirname(file), specifier));
        expect(copied.some((dir) => target === dir || target.startsWith(`${dir}/`)), `${path.relative(REPO, file)} imports ${specifier}`).toBe(true);
        expect(existsSync(path.join(REPO, target)), `${path.relative(REPO, file)} imports ${specifier}`).toBe(true);
      }
    }
  });

  it('reads no data file outside the copied folders (e.g. envoy/bootstrap.yaml for inject, protos/ for serve)', () => {
    // Every path-like string literal that names something in the repository, relative to the repository
    // (projectFile('envoy/bootstrap.yaml')) or to the file itself ('../../protos').
    const referenced = new Set<string>();
    for (const file of sources) {
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
      const visit = (node: ts.Node): void => {
        const literal = ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node);
        if (literal && !/\s/.test(node.text) && node.text.replace(/[./]/g, '') !== '' && /[./]/.test(node.text)) {
          for (const base of [REPO, path.dirname(file)]) {
            const target = path.relative(REPO, path.resolve(base, node.text));
            if (target !== '' && !target.startsWith('..') && existsSync(path.join(REPO, target))) referenced.add(target);
          }
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    expect(referenced).toContain('protos');
    for (const target of referenced) {
      expect(copied.some((dir) => target === dir || target.startsWith(`${dir}/`)), `${target} is used at run time but not in the image`).toBe(true);
    }
  });

  it('loads only packages that `npm ci --omit=dev` installs at the top of node_modules', () => {
    const packages = new Set(
      sources.flatMap((file) => runtimeImports(file).filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s))).map(packageName),
    );
    expect(packages.size).toBeGreaterThan(3);
    for (const name of packages) {
      const entry = lockfile.packages[`node_modules/${name}`];
      expect(entry, `${name} is not in package-lock.json`).toBeDefined();
      expect(entry?.dev, `${name} is a dev dependency, left out of the image`).not.toBe(true);
    }
    for (const name of Object.keys(packageJson.devDependencies)) expect(packages.has(name), `src or bin loads dev dependency ${name}`).toBe(false);
  });
});
