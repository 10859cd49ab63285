import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';

/** Where the Envoy API protos live: the deps/ folder shipped inside @grpc/grpc-js-xds. */
function envoyDepsDir(): string {
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve('@grpc/grpc-js-xds/package.json');
  return path.join(path.dirname(packageJson), 'deps');
}

function protobufjsGoogleDir(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve('protobufjs/package.json'));
}

interface RootsFile {
  includeDirs: string[];
  files: string[];
}

const projectProtosDir = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../protos');

function readRootsFile(): RootsFile {
  return JSON.parse(readFileSync(path.join(projectProtosDir, 'envoy-roots.json'), 'utf8')) as RootsFile;
}

/**
 * Loads Envoy's API (and the project's own protos) into one protobufjs Root. Call once at start-up and pass
 * the result down: nothing here runs at import time.
 */
export function loadEnvoyProtos(extraFiles: string[] = []): protobuf.Root {
  const roots = readRootsFile();
  const deps = envoyDepsDir();
  const includeDirs = [
    projectProtosDir,
    ...roots.includeDirs.map((dir) => path.join(deps, dir)),
    protobufjsGoogleDir(),
  ];
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    if (path.isAbsolute(target) && existsSync(target)) return target;
    for (const dir of includeDirs) {
      const candidate = path.join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    // protobufjs knows google/protobuf/{any,duration,struct,...}.proto without a file.
    return target;
  };
  root.loadSync([...roots.files, ...extraFiles], { keepCase: true, alternateCommentMode: false });
  root.resolveAll();
  return root;
}
