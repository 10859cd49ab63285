import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { readSimpleDocuments, readSimpleYaml } from '../../src/util/yaml-simple.ts';
import { readYaml } from '../../src/policy/yaml.ts';
import { Fuzz, policyText } from '../fuzz/mutations.ts';

/** What the full reader gives: the documents' values, or "error". */
function full(text: string): unknown {
  const read = readYaml(text);
  return read.ok ? read.documents.map((d) => d.value) : 'error';
}

/** What the folder source's reader gives: each document's value, or "error". */
function fullDocuments(text: string): unknown {
  const documents = parseAllDocuments(text, { uniqueKeys: true });
  return documents.some((doc) => doc.errors.length > 0) ? 'error' : documents.map((doc) => doc.toJS());
}

/** Where the simple reader answers, it answers exactly as the full one (both uses); returns whether it answered. */
function agrees(text: string): boolean {
  const simple = readSimpleYaml(text);
  if (simple !== undefined) expect(simple, JSON.stringify(text)).toStrictEqual(full(text));
  const documents = readSimpleDocuments(text);
  if (documents !== undefined) expect(documents, JSON.stringify(text)).toStrictEqual(fullDocuments(text));
  expect(documents === undefined, JSON.stringify(text)).toBe(simple === undefined);
  return simple !== undefined;
}

const SCALARS = [
  'x', 'a#b', 'x #c', "'it''s'", "'#'", '"q: #"', '""', "''", '1', '-3', '+5', '007', '-0', '0', '1.5', '.5', '1e3', '0x1F', '0o17', '.inf',
  '-.Inf', '.nan', '1234567890123456', '123456789012345', 'true', 'False', 'TRUE', 'yes', 'no', 'on', 'null', 'Null', '~', 'NULL', 'nULL',
  '5s', '1h30m', 'http://x:80/y', 'a:b', 'a, b', 'x]', '-x', '- x', ':x', '[]', '{}', '[a, 1, "2"]', '{a: 1, b: [x, y]}', '{a: 1, a: 2}',
  '[a,b]', '{ a: 1 }', '{a: }', '[a, ]', '{a:1}', '{"a": 1}', '[x #c]', '"a" #c', '"a"#c', '{a: 1} x', '[[[]]]',
];
const KEYS = ['model', 'a', 'b', 'a', 'policy.yaml', 'infermesh.io/policy', 'a.b', '.a', 'x_y', 'x-y', 'true', 'null', 'Null', '1', 'constructor', '__proto__', '"q"', 'a b', 'toString', 'k'];

/** The lines of a literal block scalar, some of them blank, comment-like or indented further. */
function literalLines(fuzz: Fuzz, indent: number): string[] {
  const pad = ' '.repeat(indent);
  const lines = [`${pad}model: x`, `${pad}# kept`, '', `${pad}  deeper: [a, b]`, `${pad}x #y `, ' '.repeat(indent + 1), '  '];
  const first = fuzz.chance(0.8) ? [`${pad}first: line`] : [];
  return [...first, ...Array.from({ length: fuzz.int(4) }, () => fuzz.pick(lines))];
}

/** Random nested block YAML of the kinds policies are written in, with the odd edges. */
function blockText(fuzz: Fuzz, indent: number, depth: number): string[] {
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  const seq = fuzz.chance(0.3);
  for (let n = 1 + fuzz.int(4); n > 0; n--) {
    const head = seq ? `${pad}-${' '.repeat(1 + fuzz.int(2))}` : `${pad}${fuzz.pick(KEYS)}:`;
    const nested = depth < 4 && fuzz.chance(0.35);
    if (nested && seq && fuzz.chance(0.5)) {
      // `- key: value` with its further keys lined up under the first
      const inner = blockText(fuzz, head.length, depth + 1);
      lines.push(`${head}${(inner[0] ?? 'k: v').trimStart()}`, ...inner.slice(1));
    } else if (nested) {
      const step = seq ? 2 : fuzz.pick([0, 2, 4]);
      lines.push(fuzz.chance(0.2) ? `${head} # note` : head, ...blockText(fuzz, indent + step, depth + 1));
    } else if (!seq && fuzz.chance(0.15)) {
      lines.push(`${head} ${fuzz.pick(['|', '|-', '| # c', '|+', '>'])}`, ...literalLines(fuzz, indent + 1 + fuzz.int(3)));
    } else {
      lines.push(`${head}${seq ? '' : ' '}${fuzz.pick(SCALARS)}`);
    }
    if (fuzz.chance(0.1)) lines.push(fuzz.pick(['', '# comment', `${pad}  # indented comment`, '---']));
  }
  return lines;
}

describe('readSimpleYaml (the fast reader used before the full parser)', () => {
  it('reads the usual policy shapes exactly as the full parser does', () => {
    const texts = [
      'model: m\nbackends:\n  - { name: a, service: s, port: grpc, version: "1", weight: 90 }\nretries: { attempts: 2, perTryTimeout: 5s }\n',
      '# a policy\nmodel: m # the name\nbackends:\n- name: a\n  service: s\n  port: 8080\n\n  weight: 1\ntimeout: 1s\n',
      '- model: a\n  backends: [{ name: a, service: s, port: grpc }]\n- model: b\n  backends:\n    - name: b\n      service: t\n      port: grpc\n',
      '# only a comment\n---\nmodel: a\n---\nmodel: b\ncircuitBreaker:\noutlierDetection: null\n',
      'data:\n  policy.yaml: |\n    # kept\n    model: m\n\n    backends: []\n  # a comment\n  other.yaml: |-\n    x  \n\n',
      'a: | # note\n  x',
      '# R&D owns `this`, café\nmodel: m\n  # *not* an alias\n',
      'data:\n  p.yaml: |\n    # café & *x, ok?\n    a: [b]\n',
    ];
    for (const text of texts) expect(agrees(text), text).toBe(true);
  });

  it('leaves to the full parser what it does not know, errors included', () => {
    const texts = [
      'a: &x 1\nb: *x', 'a: !!str 1', 'a: >\n  x', 'a: |+\n  x', 'a: |2\n  x', 'a: |\n\n  x', 'a: |\n  x\n   \n', '- |\n  x', 'a: |\nb: 1', 'a: "x\\ny"', 'a: 1\na: 2', 'a: b: c', '  a: 1', 'a:\n\tb: 1', 'a: x\n  y',
      'a: [x,\n  y]', '--- x', '%YAML 1.2\n---\na: 1', 'a: 1.5', 'a: 0x1F', '? a\n: 1', 'a: 1\n...\n', 'a: 1\n---', '---\n# c\n---\na: 1', 'a: "unterminated', 'a: é',
      '{a: 1}', 'just text', 'a: 1\n b: 2', 'constructor: 1', 'true: 1', 'a: [1, 2] x', 'a: x # R&D', 'a: |\n  x\tz', '\ufeffa: 1', 'a: 1\u2028b: 2', '# \u0085\na: 1',
    ];
    for (const text of texts) {
      expect(readSimpleYaml(text), text).toBeUndefined();
      agrees(text);
    }
  });

  it('agrees with the full parser on random block YAML with odd scalars and keys', () => {
    const fuzz = new Fuzz(20261203);
    let answered = 0;
    for (let i = 0; i < 5_000; i++) if (agrees(blockText(fuzz, 0, 0).join('\n'))) answered += 1;
    // Honest only if the fast reader answers often enough to be compared.
    expect(answered).toBeGreaterThan(350);
  });

  it('agrees with the full parser on random literal block scalars', () => {
    const fuzz = new Fuzz(20261204);
    let answered = 0;
    for (let i = 0; i < 2_000; i++) {
      const header = fuzz.pick(['|', '|-', '| # c', '|  ', '|-  # c']);
      const after = fuzz.pick(['  c: 1', 'c: 1', '# c', '  # c', '', '---\na: 1']);
      if (agrees(`a:\n  b: ${header}\n${literalLines(fuzz, 4 + fuzz.int(2)).join('\n')}\n${after}`)) answered += 1;
    }
    expect(answered).toBeGreaterThan(500);
  });

  it('agrees with the full parser on the fuzzer\'s mutated policies', () => {
    const fuzz = new Fuzz(20261202);
    let answered = 0;
    for (let i = 0; i < 2_000; i++) if (agrees(policyText(fuzz))) answered += 1;
    expect(answered).toBeGreaterThan(200);
  });

  it('agrees with the full parser on every YAML text in the repository and the policies inside them', () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const files = execFileSync('git', ['ls-files', '*.yaml', '*.yml'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);
    let answered = 0;
    for (const file of files) {
      const text = readFileSync(path.join(root, file), 'utf8');
      if (agrees(text)) answered += 1;
      for (const doc of parseAllDocuments(text)) {
        const data: unknown = (doc.toJS() as { data?: unknown } | null)?.data;
        if (typeof data !== 'object' || data === null) continue;
        for (const value of Object.values(data)) if (typeof value === 'string' && agrees(value)) answered += 1;
      }
    }
    expect(answered).toBeGreaterThan(20);
  });
});
