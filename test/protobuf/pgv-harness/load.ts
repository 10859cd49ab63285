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
  /** Messages whose options were rewritten so protobufjs' .proto parser accepts them. */
  rewritten: string[];
}

/**
 * protobufjs 7's parser rejects a list of messages in an option value (`duration = {in: [{seconds: 1}]}`),
 * which fails the whole file. Such a file is loaded with each such list spelt as the repeated field the
 * text format also allows (`in: {seconds: 1}, in: {...}`), which protobufjs parses to the same rules; the
 * messages concerned are reported. Every other file loads untouched.
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
  const parses = (source: string): boolean => {
    try {
      protobuf.parse(source, new protobuf.Root(), options);
      return true;
    } catch {
      return false;
    }
  };
  const sources = new Map(harnessCaseFiles().map((file) => [file, readFileSync(path.join(pgvDepsDir(), file), 'utf8')]));
  const rejected = [...sources].filter(([, source]) => !parses(source)).map(([file]) => file);
  root.loadSync(harnessCaseFiles().filter((file) => !rejected.includes(file)), options);
  const rewritten: string[] = [];
  for (const file of rejected) {
    const lines = (sources.get(file) ?? '').split(/\r?\n/).map((line) => {
      const spelt = line.replace(MESSAGE_LIST, (_, key: string, items: string) => (items.match(/\{[^{}]*\}/g) ?? []).map((item) => `${key}: ${item}`).join(', '));
      const name = /^message\s+(\w+)/.exec(line)?.[1];
      if (spelt !== line && name !== undefined) rewritten.push(`${HARNESS_PACKAGE}.${name}`);
      return spelt;
    });
    const parsed = protobuf.parse(lines.join('\n'), root, options);
    root.loadSync(parsed.imports ?? [], options);
  }
  root.resolveAll();
  return { root, rewritten };
}

/** `key: [{...}, {...}]` with flat message items. */
const MESSAGE_LIST = /(\w+)\s*:\s*\[((?:\s*\{[^{}]*\}\s*,?)+)\]/g;

export const HARNESS_PACKAGE = 'tests.harness.cases';
