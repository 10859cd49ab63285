import protobuf from 'protobufjs';
import { IMPLEMENTED_RULES, IMPLEMENTED_WELL_KNOWN_REGEXES } from '../../../src/protobuf/pgv-rules.ts';

/** Lists the `(validate.rules)` a set of protobufjs types uses, as `kind.rule` keys. */

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function allTypes(namespace: protobuf.NamespaceBase): protobuf.Type[] {
  const found: protobuf.Type[] = [];
  for (const nested of namespace.nestedArray) {
    if (nested instanceof protobuf.Type) found.push(nested);
    if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) found.push(...allTypes(nested));
  }
  return found;
}

/** `kind.rule` for every rule in a parsed `(validate.rules)` value, recursing into items/keys/values. */
function ruleKeys(rules: unknown, at: string, found: Map<string, string[]>): void {
  if (!isRecord(rules)) return;
  for (const [kind, kindRules] of Object.entries(rules)) {
    if (!isRecord(kindRules)) {
      found.set(`${kind} (not a rules message)`, [at]);
      continue;
    }
    for (const [rule, value] of Object.entries(kindRules)) {
      const nested = (kind === 'repeated' && rule === 'items') || (kind === 'map' && (rule === 'keys' || rule === 'values'));
      if (nested) ruleKeys(value, `${at} ${kind}.${rule}`, found);
      const key = rule === 'well_known_regex' ? `${kind}.${rule}=${String(value)}` : `${kind}.${rule}`;
      found.set(key, [...(found.get(key) ?? []), at]);
    }
  }
}

/** Every rule key the fields of `types` use -> the fields (`package.Message.field`) that use it. */
export function fieldRulesUsed(types: protobuf.Type[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const type of types) {
    for (const field of type.fieldsArray) {
      const parsed: unknown = field.parsedOptions;
      for (const option of Array.isArray(parsed) ? parsed : []) {
        if (isRecord(option)) ruleKeys(option['(validate.rules)'], `${type.fullName.slice(1)}.${field.name}`, found);
      }
    }
  }
  return found;
}

export function isImplemented(key: string): boolean {
  const match = /^(\w+)\.(\w+)(?:=(\w+))?$/.exec(key);
  if (match === null) return false;
  const [, kind = '', rule = '', value] = match;
  if (!(IMPLEMENTED_RULES[kind] ?? []).includes(rule)) return false;
  return value === undefined || IMPLEMENTED_WELL_KNOWN_REGEXES.includes(value);
}

/** Every implemented `kind.rule` (and well_known_regex value), for checking what a test set exercises. */
export function implementedKeys(): string[] {
  const keys = Object.entries(IMPLEMENTED_RULES).flatMap(([kind, rules]) => rules.map((rule) => `${kind}.${rule}`));
  const regexes = IMPLEMENTED_WELL_KNOWN_REGEXES.filter((value) => value !== 'UNKNOWN').map((value) => `string.well_known_regex=${value}`);
  return [...keys.filter((key) => key !== 'string.well_known_regex'), ...regexes];
}
