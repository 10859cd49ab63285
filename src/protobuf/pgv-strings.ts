import { isIP, isIPv4, isIPv6 } from 'node:net';
import type { Rules } from './pgv-rule-access.ts';

/** protoc-gen-validate string rules, including the well-known formats and HTTP header regexes. */

type StringCheck = (value: string) => string | undefined;

export function plural(count: number, noun: string): string {
  if (count === 1) return noun;
  return noun.endsWith('y') ? `${noun.slice(0, -1)}ies` : `${noun}s`;
}

/** A value for an error message: quoted and escaped, long strings shortened. */
export function describeValue(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
}

/** PGV's regexes (validate/validate.h); `+-.` is a range in the original and kept as one. */
const HEADER_REGEXES = {
  HTTP_HEADER_NAME: {
    strict: /^:?[0-9a-zA-Z!#$%&'*+-.^_|~`]+$/,
    description: 'a valid HTTP header name (token characters, optionally a leading ":")',
  },
  HTTP_HEADER_VALUE: {
    strict: /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/,
    description: 'a valid HTTP header value (no control characters other than tab)',
  },
} as const;
/** With `strict: false` (as Envoy sets it) both only forbid NUL, CR and LF. */
const HEADER_STRING = /^[^\u0000\u000A\u000D]*$/;

function headerCheck(rules: Rules): StringCheck | undefined {
  const kind = rules['well_known_regex'];
  if (kind !== 'HTTP_HEADER_NAME' && kind !== 'HTTP_HEADER_VALUE') return undefined;
  const what = kind === 'HTTP_HEADER_NAME' ? 'an HTTP header name' : 'an HTTP header value';
  if (rules['strict'] === false) {
    return (value) => (HEADER_STRING.test(value) ? undefined : `must be ${what} without NUL, CR or LF characters (got ${describeValue(value)})`);
  }
  const { strict, description } = HEADER_REGEXES[kind];
  return (value) => (strict.test(value) ? undefined : `must be ${description} (got ${describeValue(value)})`);
}

function isHostname(value: string): boolean {
  const host = value.endsWith('.') ? value.slice(0, -1) : value;
  if (host.length === 0 || host.length > 253) return false;
  return host.split('.').every((label) => /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/.test(label));
}

function isEmail(value: string): boolean {
  const address = /^[^<]*<(.+)>$/.exec(value)?.[1] ?? value;
  const at = address.lastIndexOf('@');
  if (at <= 0 || address.length > 254) return false;
  const local = address.slice(0, at);
  return local.length <= 64 && !/[\s@]/.test(local) && isHostname(address.slice(at + 1));
}

/** RFC 3986: only unreserved, reserved and percent-encoded characters, and at most one '#'. */
const URI_CHARACTERS = /^(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/;

/** WHATWG URL parsing (URL.canParse) is lenient: it accepts "!@#$%^&*%$#", which RFC 3986 does not. */
function isUriReference(value: string): boolean {
  return URI_CHARACTERS.test(value) && value.indexOf('#') === value.lastIndexOf('#') && URL.canParse(value, 'http://example.invalid/');
}

function isUri(value: string): boolean {
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(value) && isUriReference(value) && URL.canParse(value);
}

const FORMATS: Readonly<Record<string, readonly [(value: string) => boolean, string]>> = {
  email: [isEmail, 'a valid email address'],
  hostname: [isHostname, 'a valid hostname'],
  ip: [(value) => isIP(value) !== 0, 'a valid IP address'],
  ipv4: [isIPv4, 'a valid IPv4 address'],
  ipv6: [isIPv6, 'a valid IPv6 address'],
  uri: [isUri, 'an absolute URI'],
  uri_ref: [isUriReference, 'a valid URI reference'],
  address: [(value) => isIP(value) !== 0 || isHostname(value), 'a valid IP address or hostname'],
  uuid: [(value) => /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(value), 'a UUID'],
};

function formatChecks(rules: Rules): StringCheck[] {
  const checks: StringCheck[] = [];
  for (const [key, [test, description]] of Object.entries(FORMATS)) {
    if (rules[key] === true) checks.push((value) => (test(value) ? undefined : `must be ${description} (got ${describeValue(value)})`));
  }
  const header = headerCheck(rules);
  if (header !== undefined) checks.push(header);
  return checks;
}

function codePoints(value: string): number {
  let count = 0;
  for (const _ of value) count++;
  return count;
}

function lengthChecks(rules: Rules): StringCheck[] {
  const checks: StringCheck[] = [];
  const add = (key: string, measure: (value: string) => number, unit: string, words: string, test: (n: number, limit: number) => boolean) => {
    const limit = rules[key];
    if (typeof limit !== 'number') return;
    checks.push((value) => {
      const n = measure(value);
      return test(n, limit) ? undefined : `must be ${words} ${limit} ${plural(limit, unit)} (got ${n})`;
    });
  };
  const bytes = (value: string): number => Buffer.byteLength(value, 'utf8');
  add('len', codePoints, 'character', 'exactly', (n, limit) => n === limit);
  add('min_len', codePoints, 'character', 'at least', (n, limit) => n >= limit);
  add('max_len', codePoints, 'character', 'at most', (n, limit) => n <= limit);
  add('len_bytes', bytes, 'byte', 'exactly', (n, limit) => n === limit);
  add('min_bytes', bytes, 'byte', 'at least', (n, limit) => n >= limit);
  add('max_bytes', bytes, 'byte', 'at most', (n, limit) => n <= limit);
  return checks;
}

/** RE2 syntax is close enough to JavaScript's for the patterns Envoy uses; `(?i)` becomes a flag. */
export function compilePattern(pattern: string): RegExp | undefined {
  const caseInsensitive = pattern.startsWith('(?i)');
  const source = caseInsensitive ? pattern.slice(4) : pattern;
  for (const flags of ['u', '']) {
    try {
      return new RegExp(source, caseInsensitive ? `${flags}i` : flags);
    } catch {
      // Try without the unicode flag, which rejects some escapes RE2 allows.
    }
  }
  return undefined;
}

function contentChecks(rules: Rules): StringCheck[] {
  const checks: StringCheck[] = [];
  const text = (key: string): string | undefined => (typeof rules[key] === 'string' ? rules[key] : undefined);
  const add = (key: string, test: (value: string, part: string) => boolean, words: string): void => {
    const part = text(key);
    if (part !== undefined) checks.push((value) => (test(value, part) ? undefined : `must ${words} ${describeValue(part)} (got ${describeValue(value)})`));
  };
  add('const', (value, part) => value === part, 'equal');
  add('prefix', (value, part) => value.startsWith(part), 'start with');
  add('suffix', (value, part) => value.endsWith(part), 'end with');
  add('contains', (value, part) => value.includes(part), 'contain');
  add('not_contains', (value, part) => !value.includes(part), 'not contain');
  const source = text('pattern');
  const pattern = source === undefined ? undefined : compilePattern(source);
  if (pattern !== undefined) {
    checks.push((value) => (pattern.test(value) ? undefined : `must match the pattern ${source} (got ${describeValue(value)})`));
  }
  return checks;
}

function membershipChecks(rules: Rules): StringCheck[] {
  const checks: StringCheck[] = [];
  const strings = (key: string): string[] => {
    const value = rules[key];
    return (Array.isArray(value) ? value : value === undefined ? [] : [value]).map(String);
  };
  const allowed = strings('in');
  if (allowed.length > 0) {
    const shown = allowed.map((value) => JSON.stringify(value)).join(', ');
    checks.push((value) => (allowed.includes(value) ? undefined : `must be one of ${shown} (got ${describeValue(value)})`));
  }
  const denied = strings('not_in');
  if (denied.length > 0) checks.push((value) => (denied.includes(value) ? `must not be ${describeValue(value)}` : undefined));
  return checks;
}

/** All string rules as one check: the first failure wins, as in PGV's generated Validate(). */
export function compileString(rules: Rules): (value: unknown) => string | undefined {
  const checks = [...lengthChecks(rules), ...contentChecks(rules), ...membershipChecks(rules), ...formatChecks(rules)];
  const ignoreEmpty = rules['ignore_empty'] === true;
  return (value) => {
    if (typeof value !== 'string' || (ignoreEmpty && value === '')) return undefined;
    for (const check of checks) {
      const failure = check(value);
      if (failure !== undefined) return failure;
    }
    return undefined;
  };
}
