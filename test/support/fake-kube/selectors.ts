/**
 * Label selectors (k8s.io/apimachinery/pkg/labels: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`,
 * `a`, `!a`, `a>1`, `a<1`, comma = AND) and field selectors (`f=v`, `f==v`, `f!=v`).
 */
import { KINDS, type KindName, type KubeObject } from './kinds.ts';
import { apiError } from './status.ts';

type Op = 'in' | 'notin' | 'exists' | 'doesnotexist' | 'gt' | 'lt';
interface Requirement {
  key: string;
  op: Op;
  values: string[];
}

export type Matcher = (object: KubeObject) => boolean;

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function badSelector(message: string): Error {
  return apiError(400, `unable to parse requirement: ${message}`, 'BadRequest');
}

function checkKey(key: string): string {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (!NAME.test(name) || (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))) {
    throw badSelector(`invalid label key "${key}"`);
  }
  return key;
}

function checkValue(value: string): string {
  if (value !== '' && !NAME.test(value)) throw badSelector(`invalid label value: "${value}"`);
  return value;
}

function tokenize(selector: string): string[] {
  // Every character is whitespace (skipped) or part of an operator or a word, so this never fails.
  return [...selector.matchAll(/(==|!=|=|!|\(|\)|,|<|>|[^\s=!(),<>]+)|\s+/g)].flatMap((match) => (match[1] ? [match[1]] : []));
}

const isWord = (token: string | undefined): token is string => token !== undefined && !/^(==|!=|=|!|\(|\)|,|<|>)$/.test(token);

export function parseLabelSelector(selector: string): Requirement[] {
  const tokens = tokenize(selector);
  const requirements: Requirement[] = [];
  let i = 0;
  const next = (): string | undefined => tokens[i++];
  while (i < tokens.length) {
    let token = next();
    if (token === '!') {
      const key = next();
      if (!isWord(key)) throw badSelector(`expected a key after '!'`);
      requirements.push({ key: checkKey(key), op: 'doesnotexist', values: [] });
    } else if (isWord(token)) {
      const key = checkKey(token);
      const op = tokens[i];
      if (op === undefined || op === ',') {
        requirements.push({ key, op: 'exists', values: [] });
      } else if (op === '=' || op === '==' || op === '!=') {
        i++;
        const value = isWord(tokens[i]) ? (next() ?? '') : '';
        requirements.push({ key, op: op === '!=' ? 'notin' : 'in', values: [checkValue(value)] });
      } else if (op === 'in' || op === 'notin') {
        i++;
        if (next() !== '(') throw badSelector(`expected '(' after ${op}`);
        const values: string[] = [];
        for (;;) {
          const value = isWord(tokens[i]) ? (next() ?? '') : '';
          values.push(checkValue(value));
          token = next();
          if (token === ')') break;
          if (token !== ',') throw badSelector(`expected ',' or ')' in the values of ${key}`);
        }
        requirements.push({ key, op, values });
      } else if (op === '>' || op === '<') {
        i++;
        const value = next();
        if (value === undefined || !/^-?\d+$/.test(value)) throw badSelector(`for 'Gt', 'Lt' operators, exactly one integer value is required`);
        requirements.push({ key, op: op === '>' ? 'gt' : 'lt', values: [value] });
      } else {
        throw badSelector(`unexpected '${op}' after key ${key}`);
      }
    } else {
      throw badSelector(`found '${token ?? ''}', expected: !, identifier, or 'end of string'`);
    }
    if (i < tokens.length && next() !== ',') throw badSelector(`expected ',' between requirements`);
  }
  return requirements;
}

function matchesRequirement(requirement: Requirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, requirement.key);
  const value = labels[requirement.key];
  switch (requirement.op) {
    case 'in':
      return has && requirement.values.includes(value ?? '');
    case 'notin':
      return !has || !requirement.values.includes(value ?? '');
    case 'exists':
      return has;
    case 'doesnotexist':
      return !has;
    case 'gt':
    case 'lt': {
      if (!has || !/^-?\d+$/.test(value ?? '')) return false;
      const n = Number(value);
      const bound = Number(requirement.values[0]);
      return requirement.op === 'gt' ? n > bound : n < bound;
    }
  }
}

export function labelMatcher(selector: string): Matcher {
  const requirements = parseLabelSelector(selector);
  return (object) => requirements.every((r) => matchesRequirement(r, object.metadata.labels ?? {}));
}

/** Splits on an unescaped separator; `\,`, `\=`, `\!` and `\\` escape. */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\' && i + 1 < text.length) {
      current += ch + text[++i];
    } else if (text.startsWith(separator, i)) {
      parts.push(current);
      current = '';
      i += separator.length - 1;
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

const unescape = (value: string): string => value.replace(/\\(.)/g, '$1');

export function fieldMatcher(selector: string, kind: KindName): Matcher {
  const terms = splitUnescaped(selector, ',').filter((term) => term.trim() !== '');
  const tests = terms.map((term): Matcher => {
    const op = ['!=', '==', '='].find((candidate) => splitUnescaped(term, candidate).length === 2);
    if (!op) throw apiError(400, `invalid selector: '${selector}'; can't understand '${term}'`, 'BadRequest');
    const [field = '', raw = ''] = splitUnescaped(term, op);
    const value = unescape(raw);
    const getter = fieldGetter(field.trim(), kind);
    return op === '!=' ? (object) => getter(object) !== value : (object) => getter(object) === value;
  });
  return (object) => tests.every((test) => test(object));
}

function fieldGetter(field: string, kind: KindName): (object: KubeObject) => string {
  if (field === 'metadata.name') return (object) => object.metadata.name ?? '';
  if (field === 'metadata.namespace') return (object) => object.metadata.namespace ?? '';
  const getter = KINDS[kind].fields[field];
  if (!getter) throw apiError(400, `field label not supported: ${field}`, 'BadRequest');
  return (object) => {
    const value = getter(object);
    return value === undefined || value === null ? '' : String(value);
  };
}

/** The combined selector of a request; an empty selector matches everything. */
export function requestMatcher(kind: KindName, labelSelector: string | null, fieldSelector: string | null): Matcher {
  const labels = labelSelector ? labelMatcher(labelSelector) : undefined;
  const fields = fieldSelector ? fieldMatcher(fieldSelector, kind) : undefined;
  return (object) => (labels ? labels(object) : true) && (fields ? fields(object) : true);
}
