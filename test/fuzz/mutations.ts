/**
 * Seeded generators of broken policy files: real ConfigMaps and EndpointSlices mutated the ways operators,
 * editors and attackers break them (cut, spliced, retyped, aliased, control characters, huge values).
 * Deterministic for a seed, so a failure reproduces.
 */

/** mulberry32: a small, fast, seedable PRNG. */
export function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export class Fuzz {
  readonly #random: () => number;

  constructor(seed: number) {
    this.#random = randomSource(seed);
  }

  int(max: number): number {
    return Math.floor(this.#random() * max);
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  chance(p: number): boolean {
    return this.#random() < p;
  }
}

const POLICY_LINES = [
  'model: resnet50',
  'aliases: [resnet]',
  'server: triton',
  'protocol: grpc',
  'backends:',
  '  - { name: stable, service: resnet50-triton, port: grpc, version: "1", weight: 90 }',
  '  - { name: canary, service: resnet50-triton-v2, port: grpc, version: "2", weight: 10 }',
  'timeout: 30s',
  'retries: { attempts: 2, perTryTimeout: 5s, retryOn: [unavailable, reset], backoff: { base: 25ms, max: 250ms } }',
  'outlierDetection: { consecutiveErrors: 5, interval: 10s, failurePercentage: { threshold: 50 } }',
  'circuitBreaker: { maxConnections: 1024, maxPendingRequests: 256, maxRequests: 1024, maxRetries: 3 }',
];

const NASTY = [
  '\u0000', '\u001b[2J', '\n', '\r', '\t', '\u2028', '\u202e', '"', "'", '\\', ':', ': ', '- ', '{', '}', '[', ']', ',', '#',
  '&a ', '*a', '!!str ', '!!binary ', '? ', '|', '>', '---\n', '...\n', '%YAML 1.2\n', '<<: *a', '~', 'null', '0x1F', '1e999',
  '-1', '4294967296', '.inf', 'yes', 'é', '🙂', '\ufeff',
];

const FIELD_VALUES = ['', '0', '-3', '1.5', 'true', '[]', '{}', '[1, 2]', '"x"', 'null', '25ms', '1h30m', '999999h', '-5s', 'unknown', 'tfserving', 'http'];

/** The policy text for one document, mutated. */
export function policyText(fuzz: Fuzz): string {
  let lines = POLICY_LINES.filter(() => fuzz.chance(0.85));
  const edits = 1 + fuzz.int(4);
  for (let e = 0; e < edits; e++) lines = mutateLines(fuzz, lines);
  return lines.join('\n');
}

function mutateLines(fuzz: Fuzz, lines: string[]): string[] {
  const at = fuzz.int(Math.max(1, lines.length));
  const line = lines[at] ?? '';
  switch (fuzz.int(10)) {
    case 0: // a typo in a field name
      return lines.map((l, i) => (i === at ? l.replace(/[a-z]/, (c) => String.fromCharCode(c.charCodeAt(0) + 1)) : l));
    case 1: // a value of the wrong type or range
      return lines.map((l, i) => (i === at ? l.replace(/: .*$/, `: ${fuzz.pick(FIELD_VALUES)}`) : l));
    case 2: // nasty characters spliced in
      return lines.map((l, i) => (i === at ? spliced(fuzz, l, fuzz.pick(NASTY)) : l));
    case 3: // duplicate a line (duplicate keys)
      return [...lines.slice(0, at + 1), line, ...lines.slice(at + 1)];
    case 4: // re-indent
      return lines.map((l, i) => (i === at ? `${' '.repeat(fuzz.int(5))}${l.trimStart()}` : l));
    case 5: // a huge value or key
      return [...lines, fuzz.chance(0.5) ? `model: ${'m'.repeat(2_000 + fuzz.int(20_000))}` : `? ${'k'.repeat(2_000 + fuzz.int(20_000))}\n: 1`];
    case 6: // aliases, sometimes an alias bomb
      return ['anchor: &a [x, x, x, x, x]', ...lines, `bomb: [${Array.from({ length: fuzz.chance(0.5) ? 5 : 150 }, () => '*a').join(', ')}]`];
    case 7: // deep nesting
      return [...lines, `deep: ${'['.repeat(20 + fuzz.int(2_000))}`];
    case 8: // cut short
      return lines.join('\n').slice(0, fuzz.int(lines.join('\n').length + 1)).split('\n');
    default: // a random unknown field
      return [...lines, `${fuzz.pick(['retry', 'backend', 'timeouts', 'models', 'x'])}: ${fuzz.pick(FIELD_VALUES)}`];
  }
}

function spliced(fuzz: Fuzz, text: string, insert: string): string {
  const at = fuzz.int(text.length + 1);
  return `${text.slice(0, at)}${insert}${text.slice(at)}`;
}

/** A policy ConfigMap around (possibly broken) policy text, itself sometimes broken. */
export function policyConfigMap(fuzz: Fuzz, index: number): string {
  const name = fuzz.chance(0.9) ? `policy-${index}` : fuzz.pick(['', 'a\nb', 'x'.repeat(300), '"quoted', `n\u0000${index}`]);
  const policy = policyText(fuzz)
    .replace('model: resnet50', `model: m${index}`)
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
  const key = fuzz.chance(0.9) ? 'policy.yaml' : fuzz.pick(['policy.txt', 'a b.yaml', '', 'p.yml']);
  let text = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${JSON.stringify(name)}\n  namespace: models\n  labels: { infermesh.io/policy: "true" }\ndata:\n  ${JSON.stringify(key)}: |\n${policy}\n`;
  if (fuzz.chance(0.15)) text = text.replace(/\n {2}name: .*\n/, '\n'); // no metadata.name
  if (fuzz.chance(0.1)) text = text.slice(0, fuzz.int(text.length)); // half-written file
  if (fuzz.chance(0.05)) text = spliced(fuzz, text, fuzz.pick(NASTY)); // broken outside the policy
  return text;
}
