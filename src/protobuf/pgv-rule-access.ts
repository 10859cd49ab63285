import { isRecord } from './proto-reflect.ts';

/** One `(validate.rules)` object (or a nested part of it) as protobufjs parsed it from the .proto. */
export type Rules = Readonly<Record<string, unknown>>;

export function sub(rules: Rules | undefined, key: string): Rules | undefined {
  const value = rules?.[key];
  return isRecord(value) ? value : undefined;
}

export function flag(rules: Rules | undefined, key: string): boolean {
  return rules?.[key] === true;
}

/** protobufjs gives a one-element repeated option as a bare value; normalize to a list. */
export function list(rules: Rules | undefined, key: string): unknown[] {
  const value = rules?.[key];
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}
