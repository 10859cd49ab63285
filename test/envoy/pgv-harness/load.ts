import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';

/**
 * PGV's conformance-case protos (tests/harness/cases/*.proto, shipped inside @grpc/grpc-js-xds under
 * deps/protoc-gen-validate), loaded with protobufjs exactly as src/envoy/protos.ts loads Envoy's API:
 * keepCase, the same include-path resolution, protobufjs' bundled google/protobuf types.
 */
export function pgvDepsDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps', 'protoc-gen-validate');
}

export function harnessCaseFiles(): string[] {
  const casesDir = path.join(pgvDepsDir(), 'tests/harness/cases');
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.proto')) files.push(path.relative(pgvDepsDir(), full));
    }
  };
  walk(casesDir);
  return files.sort();
}

export interface HarnessProtos {
  root: protobuf.Root;
  /** Messages left out because protobufjs' .proto parser rejects their options (with its error). */
  dropped: { message: string; reason: string }[];
}

/**
 * protobufjs 7's parser rejects a list of messages in an option value (`duration = {in: [{seconds: 1}]}`),
 * which fails the whole file. Such a file is parsed without the top-level messages it rejects, so the
 * rest of its cases still run; the dropped ones are reported.
 */
export function loadHarnessProtos(): HarnessProtos {
  const includeDirs = [pgvDepsDir(), path.dirname(createRequire(import.meta.url).resolve('protobufjs/package.json'))];
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (path.isAbsolute(target) && existsSync(target)) return target;
    for (const dir of includeDirs) {
      const candidate = path.join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target;
  };
  const options = { keepCase: true, alternateCommentMode: false };
  const dropped: HarnessProtos['dropped'] = [];
  const rejected: string[] = [];
  for (const file of harnessCaseFiles()) {
    try {
      protobuf.parse(readFileSync(path.join(pgvDepsDir(), file), 'utf8'), new protobuf.Root(), options);
    } catch {
      rejected.push(file);
    }
  }
  root.loadSync(harnessCaseFiles().filter((file) => !rejected.includes(file)), options);
  for (const file of rejected) {
    const lines = readFileSync(path.join(pgvDepsDir(), file), 'utf8').split(/\r?\n/);
    for (;;) {
      try {
        protobuf.parse(lines.join('\n'), new protobuf.Root(), options);
        const parsed = protobuf.parse(lines.join('\n'), root, options);
        root.loadSync(parsed.imports ?? [], options);
        break;
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        const line = Number(/line (\d+)/.exec(reason)?.[1] ?? NaN);
        const name = dropTopLevelMessage(lines, line - 1);
        if (name === undefined) throw error;
        dropped.push({ message: `${HARNESS_PACKAGE}.${name}`, reason: `${file}: ${reason}` });
      }
    }
  }
  root.resolveAll();
  return { root, dropped };
}

/** Blanks the top-level `message` declaration around line `index`; its name, or undefined if none. */
function dropTopLevelMessage(lines: string[], index: number): string | undefined {
  let start = index;
  while (start >= 0 && !/^message\s/.test(lines[start] ?? '')) start--;
  if (start < 0) return undefined;
  const name = /^message\s+(\w+)/.exec(lines[start] ?? '')?.[1];
  let depth = 0;
  for (let end = start; end < lines.length; end++) {
    for (const char of lines[end] ?? '') depth += char === '{' ? 1 : char === '}' ? -1 : 0;
    lines[end] = '';
    if (depth === 0 && end >= index) return name;
  }
  return name;
}

export const HARNESS_PACKAGE = 'tests.harness.cases';
