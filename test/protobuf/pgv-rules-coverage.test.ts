import { existsSync, readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateMessage } from '../../src/protobuf/pgv.ts';
import { IMPLEMENTED_OPTIONS } from '../../src/protobuf/pgv-plan.ts';
import { compilePattern } from '../../src/protobuf/pgv-strings.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { allTypes, fieldRulesUsed, isImplemented, isRecord } from './pgv-harness/rule-keys.ts';

/**
 * The validator enforces every PGV annotation in the Envoy protos the project loads: no `(validate.*)`
 * option anywhere in them is one it does not implement (an unimplemented rule would be skipped silently
 * and Envoy would NACK what we pushed).
 */

let root: protobuf.Root;
let types: protobuf.Type[];

beforeAll(() => {
  root = loadEnvoyProtos();
  types = allTypes(root);
});

const isPgv = (key: string): boolean => key.startsWith('(validate.');

/** Where each `(validate.*)` option sits: `message (validate.disabled)`, `oneof ...`, `field ...`. */
function optionsUsed(): Map<string, string[]> {
  const used = new Map<string, string[]>();
  const note = (key: string, where: string): void => {
    used.set(key, [...(used.get(key) ?? []), where]);
  };
  for (const type of types) {
    const name = type.fullName.slice(1);
    for (const key of Object.keys(type.options ?? {}).filter(isPgv)) note(`message ${key}`, name);
    for (const oneof of type.oneofsArray) for (const key of Object.keys(oneof.options ?? {}).filter(isPgv)) note(`oneof ${key}`, `${name}.${oneof.name}`);
    for (const field of type.fieldsArray) {
      // protobufjs flattens `(validate.rules).string.min_len` into the key of field.options.
      for (const key of Object.keys(field.options ?? {}).filter(isPgv)) note(`field ${key.replace(/\).*$/, ')')}`, `${name}.${field.name}`);
    }
  }
  return used;
}

describe('PGV rule coverage of the loaded Envoy protos', () => {
  it('loads a realistic share of Envoy (the walk below is not vacuous)', () => {
    expect(types.length).toBeGreaterThan(500);
    expect(fieldRulesUsed(types).get('string.min_len')?.length).toBeGreaterThan(50);
  });

  it('uses only message, oneof and field options the plan reads', () => {
    const implemented = [
      ...IMPLEMENTED_OPTIONS.message.map((key) => `message ${key}`),
      ...IMPLEMENTED_OPTIONS.oneof.map((key) => `oneof ${key}`),
      ...IMPLEMENTED_OPTIONS.field.map((key) => `field ${key}`),
    ];
    const unknown = [...optionsUsed()].filter(([key]) => !implemented.includes(key));
    expect(Object.fromEntries(unknown.map(([key, where]) => [key, where.slice(0, 5)]))).toEqual({});
  });

  it('uses only (validate.rules) the validator implements', () => {
    const used = fieldRulesUsed(types);
    const missing = [...used].filter(([key]) => !isImplemented(key));
    expect(Object.fromEntries(missing.map(([key, where]) => [key, where.slice(0, 5)]))).toEqual({});
    console.log(`(validate.rules) in the loaded Envoy protos: ${[...used.keys()].sort().join(', ')}`);
  });

  it('finds every flattened (validate.*) field option in the parsed rules the plan reads', () => {
    // The converse does not hold: protobufjs leaves `duration = {gt {}}` out of field.options.
    for (const type of types) {
      for (const field of type.fieldsArray) {
        const flat = Object.keys(field.options ?? {}).some(isPgv);
        const parsed: unknown = field.parsedOptions;
        const structured = Array.isArray(parsed) && parsed.some((option) => isRecord(option) && Object.keys(option).some(isPgv));
        if (flat) expect(structured, `${type.fullName}.${field.name}`).toBe(true);
      }
    }
  });

  it('enforces an empty-message bound, which protobufjs keeps only in parsedOptions (duration = {gt {}})', () => {
    const backoff = (maxInterval: object): string[] =>
      validateMessage(root, 'envoy.config.core.v3.BackoffStrategy', { base_interval: { seconds: 1 }, max_interval: maxInterval }).map(({ path }) => path);
    expect(backoff({ seconds: 0, nanos: 0 })).toEqual(['max_interval']);
    expect(backoff({ seconds: 0, nanos: 1 })).toEqual([]);
  });

  it('compiles every string pattern as a JavaScript RegExp (none is skipped)', () => {
    const patterns: string[] = [];
    const collect = (rules: unknown): void => {
      if (Array.isArray(rules)) rules.forEach(collect);
      if (!isRecord(rules)) return;
      for (const [key, value] of Object.entries(rules)) {
        if (key === 'pattern' && typeof value === 'string') patterns.push(value);
        else collect(value);
      }
    };
    for (const type of types) for (const field of type.fieldsArray) collect(field.parsedOptions);
    expect(patterns.length).toBeGreaterThan(0);
    expect(patterns.filter((pattern) => compilePattern(pattern) === undefined)).toEqual([]);
  });

  it('has no string escape in the loaded .proto files that protobufjs would misread', () => {
    // protobufjs' tokenizer maps \\, \0, \r, \n and \t and silently drops any other escape (\x99 -> "99").
    const literal = /\/\/[^\n]*|\/\*[\s\S]*?\*\/|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g;
    const misread: string[] = [];
    const files = root.files.filter((file) => existsSync(file));
    expect(files.length).toBeGreaterThan(50);
    for (const file of files) {
      for (const [token] of readFileSync(file, 'utf8').matchAll(literal)) {
        if (token.startsWith('/')) continue;
        const escapes = token.slice(1, -1).match(/\\./g) ?? [];
        if (escapes.some((escape) => !['\\\\', '\\0', '\\r', '\\n', '\\t'].includes(escape))) misread.push(`${file}: ${token}`);
      }
    }
    expect(misread).toEqual([]);
  });

  it('plans every loaded message type without throwing', () => {
    for (const type of types) expect(() => validateMessage(root, type.fullName.slice(1), {}), type.fullName).not.toThrow();
  });
});
