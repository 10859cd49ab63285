import { readFileSync } from 'node:fs';
import type protobuf from 'protobufjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateMessage } from '../../src/protobuf/pgv.ts';
import { loadHarnessProtos } from './pgv-harness/load.ts';
import { allTypes, fieldRulesUsed, implementedKeys } from './pgv-harness/rule-keys.ts';

/**
 * protoc-gen-validate's own conformance cases (tests/harness/executor/cases.go, converted to
 * pgv-harness/cases.json) run against the validator, on the case protos @grpc/grpc-js-xds ships, loaded
 * with protobufjs the way the project loads Envoy's API. Each case is validated twice: as the message
 * protobufjs' fromObject builds, and as that message after an encode/decode round trip.
 *
 * A case listed below must keep failing (so a fix shows up as a test to update) and every other case must
 * pass (so a regression or a new failure shows up at once).
 */

interface HarnessCase {
  name: string;
  type: string;
  valid: boolean;
  message: Record<string, unknown>;
}

interface Fixture {
  source: string;
  unconverted: { name: string; reason: string }[];
  cases: HarnessCase[];
}

const fixture = JSON.parse(readFileSync(new URL('./pgv-harness/cases.json', import.meta.url), 'utf8')) as Fixture;

/** protobufjs' .proto tokenizer turns an unknown escape `\x` into nothing, so `"\x99"` reads as "99". */
const X_ESCAPE = 'protobufjs drops \\x escapes from .proto option strings, so the rule reads a different value';

const EXPECTED_FAILURES: Readonly<Record<string, string>> = {
  'bytes - pattern - valid': `${X_ESCAPE} (pattern ^[\\x00-\\x7F]+$ becomes ^[00-7F]+$)`,
  'bytes - prefix - valid': `${X_ESCAPE} (prefix "\\x99" becomes "99")`,
  'bytes - prefix - valid (only)': `${X_ESCAPE} (prefix "\\x99" becomes "99")`,
  'bytes - suffix - valid': `${X_ESCAPE} (suffix "buz\\x7a" becomes "buz7a")`,
  'bytes - suffix - valid (only)': `${X_ESCAPE} (suffix "buz\\x7a" becomes "buz7a")`,
  'kitchensink - field - valid': `${X_ESCAPE} (bytes_val const "\\x00\\x99" becomes "0099")`,
};

/** protobufjs 7 cannot parse `in: [{seconds: 1}, ...]`; load.ts spells these two as repeated entries. */
const REWRITTEN = ['tests.harness.cases.DurationIn', 'tests.harness.cases.DurationNotIn'];

let root: protobuf.Root;
let rewritten: string[];

beforeAll(() => {
  ({ root, rewritten } = loadHarnessProtos());
});

/** `{"$nowUnixPlus": n}` in the fixture stands for `time.Now().Unix() + n` in cases.go. */
function resolveNow(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(resolveNow);
  if (typeof value !== 'object' || value === null) return value;
  const offset: unknown = Reflect.get(value, '$nowUnixPlus');
  if (typeof offset === 'number') return Math.floor(Date.now() / 1000) + offset;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, resolveNow(inner)]));
}

/** Whether the validator agrees with the case, for both forms of the message; the errors for a report. */
function runCase(entry: HarnessCase): { agrees: boolean; detail: string } {
  const type = root.lookupType(entry.type);
  const built = type.fromObject(resolveNow(entry.message) as Record<string, unknown>);
  const decoded = type.decode(type.encode(built).finish());
  const results = [built, decoded].map((message) => validateMessage(root, entry.type, message));
  const agrees = results.every((errors) => errors.length === 0 === entry.valid);
  const detail = `expected ${entry.valid ? 'valid' : 'invalid'}; errors (built, decoded): ${JSON.stringify(results)}`;
  return { agrees, detail };
}

describe('PGV conformance cases (protoc-gen-validate tests/harness)', () => {
  it('loads every case message, rewriting only the options protobufjs cannot parse', () => {
    expect(rewritten.sort()).toEqual(REWRITTEN);
  });

  it('converted every case of cases.go', () => {
    expect(fixture.unconverted).toEqual([]);
    expect(fixture.cases.length).toBe(976);
  });

  it('lists only expected failures that exist', () => {
    const names = new Set(fixture.cases.map(({ name }) => name));
    expect(Object.keys(EXPECTED_FAILURES).filter((name) => !names.has(name))).toEqual([]);
  });

  it('exercises every rule the validator claims to implement', () => {
    const exercised = new Set(fieldRulesUsed(allTypes(root)).keys());
    // Not in this 2020 harness: ignore_empty came to PGV in 2021 (test/protobuf/pgv.test.ts covers string's,
    // Envoy uses only string's), and map.no_sparse needs no check in proto3.
    const elsewhere = (key: string): boolean => key.endsWith('.ignore_empty') || key === 'map.no_sparse';
    expect(implementedKeys().filter((key) => !exercised.has(key) && !elsewhere(key))).toEqual([]);
  });

  it.each(fixture.cases)('$name', (entry) => {
    const { agrees, detail } = runCase(entry);
    const reason = EXPECTED_FAILURES[entry.name];
    if (reason === undefined) expect(agrees, detail).toBe(true);
    else expect(agrees, `expected to fail (${reason}) but passes now: remove it from EXPECTED_FAILURES`).toBe(false);
  });

  it('passes all but the listed cases', () => {
    const failing = fixture.cases.filter((entry) => !runCase(entry).agrees).map(({ name }) => name);
    const passed = fixture.cases.length - failing.length;
    console.log(`PGV conformance: ${passed} of ${fixture.cases.length} cases pass`);
    expect(failing.sort()).toEqual(Object.keys(EXPECTED_FAILURES).sort());
  });
});
