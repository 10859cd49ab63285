/**
 * Turns PGV's Go test vectors (tests/harness/executor/cases.go) into cases.json, the fixture
 * pgv-conformance.test.ts runs. Regenerate with:
 *
 *   node_modules/.bin/node test/protobuf/pgv-harness/convert-cases.ts <path to cases.go> <commit>
 *
 * Use the cases.go of the protoc-gen-validate commit whose tests/harness/cases/*.proto are the ones
 * @grpc/grpc-js-xds ships (see README.md here). Each message literal becomes an object in the shape
 * protobufjs' Type.fromObject reads (proto field names, enum value names, bytes as base64, 64-bit integers
 * as decimal strings, "NaN"/"Infinity"); `{"$nowUnixPlus": n}` stands for `time.Now().Unix() + n`.
 */
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { caseLines, type GoNode, parseGoExpression } from './go-literal.ts';
import { HARNESS_PACKAGE, loadHarnessProtos } from './load.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** protoc-gen-go's name for a proto field or oneof: `int_const` -> `IntConst`. */
function goName(protoName: string): string {
  return protoName.replace(/^[a-z]/, (c) => c.toUpperCase()).replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function fail(message: string): never {
  throw new Error(message);
}

function keyName(node: GoNode | undefined): string {
  return node?.kind === 'ident' ? node.name : fail(`expected a field name, got ${JSON.stringify(node)}`);
}

function convertMessage(type: protobuf.Type, node: GoNode): { [key: string]: Json } {
  if (node.kind !== 'composite') fail(`expected a ${type.name} literal, got ${node.kind}`);
  const out: { [key: string]: Json } = {};
  for (const { key, value } of node.entries) {
    const name = keyName(key);
    const field = type.fieldsArray.find((candidate) => goName(candidate.name) === name);
    if (field !== undefined) {
      const converted = convertField(field, value);
      if (converted !== undefined) out[field.name] = converted;
      continue;
    }
    const oneof = type.oneofsArray.find((candidate) => goName(candidate.name) === name) ?? fail(`no field ${name} in ${type.name}`);
    if (value.kind === 'ident' && value.name === 'nil') continue;
    // `O: &cases.OneOf_X{X: "foo"}` sets the oneof member x.
    const [member] = value.kind === 'composite' ? value.entries : [];
    const memberName = keyName(member?.key);
    const memberField = oneof.fieldsArray.find((candidate) => goName(candidate.name) === memberName) ?? fail(`no member ${memberName} in ${oneof.name}`);
    const converted = member === undefined ? undefined : convertField(memberField, member.value);
    if (converted !== undefined) out[memberField.name] = converted;
  }
  return out;
}

function convertField(field: protobuf.Field, node: GoNode): Json | undefined {
  if (node.kind === 'ident' && node.name === 'nil') return undefined;
  if (field instanceof protobuf.MapField) {
    if (node.kind !== 'composite') fail(`expected a map literal for ${field.name}`);
    const out: { [key: string]: Json } = {};
    for (const { key, value } of node.entries) {
      const mapKey = key === undefined ? fail('map entry without key') : convertValue(field.keyType, null, key);
      const converted = convertValue(field.type, field.resolvedType, value);
      if (converted !== undefined) out[String(mapKey)] = converted;
    }
    return out;
  }
  if (field.repeated) {
    if (node.kind !== 'composite') fail(`expected a slice literal for ${field.name}`);
    return node.entries.map(({ value }) => convertValue(field.type, field.resolvedType, value) ?? fail('nil element'));
  }
  return convertValue(field.type, field.resolvedType, node);
}

const MATH_CONSTANTS: Readonly<Record<string, number>> = { 'math.MaxInt32': 2147483647, 'math.MinInt32': -2147483648 };

function convertValue(type: string, resolved: protobuf.ReflectionObject | null, node: GoNode): Json | undefined {
  if (node.kind === 'ident' && node.name === 'nil') return undefined;
  if (resolved instanceof protobuf.Type) {
    if (node.kind === 'call' && node.callee === 'ptypes.TimestampNow') return { seconds: { $nowUnixPlus: 0 } };
    return convertMessage(resolved, node);
  }
  if (node.kind === 'ident' && node.name in MATH_CONSTANTS) return MATH_CONSTANTS[node.name] ?? null;
  if (resolved instanceof protobuf.Enum) return enumValue(resolved, node);
  switch (type) {
    case 'bytes':
      return bytesValue(node).toString('base64');
    case 'string': {
      if (node.kind !== 'string') fail(`expected a string, got ${node.kind}`);
      const text = node.bytes.toString('utf8');
      if (!Buffer.from(text, 'utf8').equals(node.bytes)) fail('string literal is not valid UTF-8');
      return text;
    }
    case 'bool':
      return node.kind === 'ident' && (node.name === 'true' || node.name === 'false') ? node.name === 'true' : fail('expected a bool');
    default:
      return numberValue(type, node);
  }
}

function enumValue(enumType: protobuf.Enum, node: GoNode): Json {
  if (node.kind === 'number') return Number(node.text);
  if (node.kind !== 'ident') fail(`expected an enum constant, got ${node.kind}`);
  const constant = node.name.slice(node.name.lastIndexOf('.') + 1);
  // Go names enum constants <Enum>_<VALUE>; the longest matching value name wins.
  const names = Object.keys(enumType.values).filter((name) => constant.endsWith(`_${name}`));
  return names.sort((a, b) => b.length - a.length)[0] ?? fail(`no value ${constant} in ${enumType.name}`);
}

function bytesValue(node: GoNode): Buffer {
  if (node.kind === 'string') return node.bytes;
  if (node.kind === 'call' && node.callee === '[]byte' && node.args[0]?.kind === 'string') return node.args[0].bytes;
  if (node.kind === 'composite' && node.type === '[]byte') {
    return Buffer.from(node.entries.map(({ value }) => (value.kind === 'number' ? Number(value.text) : fail('expected a byte'))));
  }
  return fail(`expected bytes, got ${node.kind}`);
}

function numberValue(type: string, node: GoNode): Json {
  if (node.kind === 'number') {
    const value = Number(node.text);
    if (Number.isNaN(value)) fail(`bad number ${node.text}`);
    return Number.isSafeInteger(value) || !Number.isInteger(value) ? value : BigInt(node.text).toString();
  }
  if (node.kind === 'call' && node.callee === 'math.Inf') {
    const sign = node.args[0]?.kind === 'number' && node.args[0].text.startsWith('-') ? '-' : '';
    return `${sign}Infinity`;
  }
  if (node.kind === 'call' && node.callee === 'math.NaN') return 'NaN';
  if (node.kind === 'add' && node.left.kind === 'call' && node.left.callee === 'time.Now().Unix' && node.right.kind === 'number') {
    return { $nowUnixPlus: Number(node.right.text) };
  }
  return fail(`unsupported ${type} value ${JSON.stringify(node)}`);
}

function topLevelType(root: protobuf.Root, node: GoNode): protobuf.Type {
  if (node.kind !== 'composite' || node.type === undefined) fail('a case must be a message literal');
  const goType = node.type.replace(/^cases\./, `${HARNESS_PACKAGE}.`);
  const found = root.lookup(goType) ?? root.lookup(goType.replace(/_/g, '.'));
  return found instanceof protobuf.Type ? found : fail(`no message ${node.type}`);
}

function main(): void {
  const [casesGo, commit] = process.argv.slice(2);
  if (casesGo === undefined || commit === undefined) fail('usage: convert-cases.ts <cases.go> <commit>');
  const { root } = loadHarnessProtos();
  const seen = new Map<string, number>();
  const cases: Json[] = [];
  const unconverted: Json[] = [];
  for (const { name, message, valid } of caseLines(readFileSync(casesGo, 'utf8'))) {
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    const id = count === 1 ? name : `${name} (#${count})`;
    try {
      const node = parseGoExpression(message);
      const type = topLevelType(root, node);
      cases.push({ name: id, type: type.fullName.slice(1), valid, message: convertMessage(type, node) });
    } catch (error) {
      unconverted.push({ name: id, literal: message, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  const fixture = {
    source: `https://github.com/bufbuild/protoc-gen-validate/blob/${commit}/tests/harness/executor/cases.go`,
    licence: 'Apache-2.0 (protoc-gen-validate); derived test data, converted by test/protobuf/pgv-harness/convert-cases.ts',
    unconverted,
    cases,
  };
  // One case per line keeps diffs of a regeneration readable.
  const lines = cases.map((entry) => `    ${JSON.stringify(entry)}`);
  const header = JSON.stringify({ ...fixture, cases: undefined }, null, 2).replace(/\n}$/, '');
  const body = `${header},\n  "cases": [\n${lines.join(',\n')}\n  ]\n}\n`;
  const out = path.join(path.dirname(new URL(import.meta.url).pathname), 'cases.json');
  writeFileSync(out, body);
  console.log(`${cases.length} cases written to ${out}; ${unconverted.length} not converted`);
}

main();
