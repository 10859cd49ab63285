/** Reading manifests/, checking objects against the Kubernetes API schema, and reading the Dockerfile. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const MANIFESTS = path.join(REPO, 'manifests');

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export interface LoadedObject {
  /** Relative to manifests/, e.g. "base/rbac.yaml". */
  file: string;
  object: KubeObject;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isKubeObject(value: unknown): value is KubeObject {
  if (!isRecord(value) || typeof value['apiVersion'] !== 'string' || typeof value['kind'] !== 'string') return false;
  const metadata = value['metadata'];
  return isRecord(metadata) && typeof metadata['name'] === 'string' && metadata['name'] !== '';
}

/** Every .yaml/.yml file under `dir`, relative to it, sorted. */
export function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name))
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

export const isKustomization = (file: string): boolean => /(^|\/)kustomization\.ya?ml$/.test(file);
/** manifests/monitoring: Prometheus rules and Prometheus Operator objects, not Kubernetes API types (test/monitoring checks them). */
export const isMonitoring = (file: string): boolean => file.startsWith('monitoring/');

/** Every document of a YAML stream; a syntax error or a document that is not an object throws, naming the file. */
export function parseStream(text: string, origin: string): unknown[] {
  const values: unknown[] = [];
  parseAllDocuments(text).forEach((document, index) => {
    if (document.errors.length > 0) throw new Error(`${origin} document ${index}: ${document.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = document.toJS();
    if (value !== null) values.push(value);
  });
  return values;
}

/** Every Kubernetes object in every YAML file under manifests/ except the kustomization files and monitoring/. */
export function loadManifestObjects(): LoadedObject[] {
  const loaded: LoadedObject[] = [];
  for (const file of yamlFiles(MANIFESTS).filter((f) => !isKustomization(f) && !isMonitoring(f))) {
    for (const value of parseStream(readFileSync(path.join(MANIFESTS, file), 'utf8'), file)) {
      if (!isKubeObject(value)) throw new Error(`${file}: not a Kubernetes object (apiVersion, kind and metadata.name): ${JSON.stringify(value).slice(0, 120)}`);
      loaded.push({ file, object: value });
    }
  }
  return loaded;
}

export function loadKustomization(dir: string): { resources: string[] } {
  const [value] = parseStream(readFileSync(path.join(MANIFESTS, dir, 'kustomization.yaml'), 'utf8'), `${dir}/kustomization.yaml`);
  if (!isRecord(value) || !Array.isArray(value['resources'])) throw new Error(`${dir}/kustomization.yaml has no resources list`);
  return { resources: value['resources'].map(String) };
}

// --- Kubernetes API schema -------------------------------------------------------------------------------

interface Attribute {
  baseName: string;
  type: string;
}

const models = new Map<string, unknown>(Object.entries(k8s));

/** The fields of a generated @kubernetes/client-node model (V1Deployment, ...), from the OpenAPI spec it was built from. */
function attributesOf(type: string): Attribute[] | undefined {
  const model = models.get(type);
  if (typeof model !== 'function' || !('getAttributeTypeMap' in model) || typeof model.getAttributeTypeMap !== 'function') return undefined;
  const map: unknown = model.getAttributeTypeMap();
  if (!Array.isArray(map)) return undefined;
  return map.filter((a): a is Attribute => isRecord(a) && typeof a['baseName'] === 'string' && typeof a['type'] === 'string');
}

/** The client model for a manifest's kind, e.g. apps/v1 Deployment -> V1Deployment. */
export function modelTypeFor(object: KubeObject): string | undefined {
  const version = object.apiVersion.split('/').pop() ?? '';
  const type = `${version[0]?.toUpperCase() ?? ''}${version.slice(1)}${object.kind}`;
  return attributesOf(type) ? type : undefined;
}

/**
 * Problems with `value` as the API type `type`: unknown fields (what `kubectl apply` rejects under strict
 * field validation) and scalars of the wrong type. Resource quantities may be numbers, as the API accepts.
 */
export function schemaProblems(type: string, value: unknown, where: string, quantities = false): string[] {
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) return [`${where}: expected a list`];
    return value.flatMap((item, i) => schemaProblems(array[1] ?? '', item, `${where}[${i}]`));
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (!isRecord(value)) return [`${where}: expected a mapping`];
    return Object.entries(value).flatMap(([key, item]) => schemaProblems(map[1] ?? '', item, `${where}.${key}`, quantities));
  }
  switch (type) {
    case 'string':
      return typeof value === 'string' || (quantities && typeof value === 'number') ? [] : [`${where}: expected a string, got ${JSON.stringify(value)}`];
    case 'Date':
      return typeof value === 'string' ? [] : [`${where}: expected a timestamp string`];
    case 'number':
      return typeof value === 'number' ? [] : [`${where}: expected a number, got ${JSON.stringify(value)}`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${where}: expected true or false, got ${JSON.stringify(value)}`];
    case 'IntOrString':
      return typeof value === 'number' || typeof value === 'string' ? [] : [`${where}: expected a number or a name`];
    case 'any':
    case 'object':
      return [];
  }
  const attributes = attributesOf(type);
  if (!attributes) return [`${where}: no schema for ${type}`];
  if (!isRecord(value)) return [`${where}: expected a mapping (${type})`];
  return Object.entries(value).flatMap(([key, item]) => {
    const attribute = attributes.find((a) => a.baseName === key);
    if (!attribute) return [`${where}.${key}: unknown field of ${type}`];
    return schemaProblems(attribute.type, item, `${where}.${key}`, key === 'requests' || key === 'limits');
  });
}

// --- Resource quantities ---------------------------------------------------------------------------------

const SUFFIX: Record<string, number> = { m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** A Kubernetes quantity ("100m", "2", "256Mi") as a number; throws on forms these manifests do not use. */
export function quantity(value: unknown): number {
  const match = /^(\d+(?:\.\d+)?)(m|k|M|G|Ki|Mi|Gi|Ti|)$/.exec(String(value));
  const factor = match ? SUFFIX[match[2] ?? ''] : undefined;
  if (!match || factor === undefined) throw new Error(`unsupported quantity ${JSON.stringify(value)}`);
  return Number(match[1]) * factor;
}

// --- Dockerfile and .dockerignore ------------------------------------------------------------------------

export interface Instruction {
  keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  args: string;
  line: number;
}

/** Instructions in order; comments and parser directives dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd();
    if (/^\s*#/.test(line) || (pending === undefined && line.trim() === '')) return;
    const continued = line.endsWith('\\');
    const body = continued ? line.slice(0, -1) : line;
    pending = pending ? { text: `${pending.text} ${body.trim()}`, line: pending.line } : { text: body.trim(), line: index + 1 };
    if (continued) return;
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(pending.text) ?? [];
    instructions.push({ keyword: keyword.toUpperCase(), args, line: pending.line });
    pending = undefined;
  });
  return instructions;
}

/** An exec-form (JSON array) argument list, or undefined for shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(args);
  return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : undefined;
}

/** COPY/ADD flags and operands: `COPY --from=deps /a ./b` -> { flags: { from: 'deps' }, sources: ['/a'], destination: './b' }. */
export function copyOperands(args: string): { flags: Record<string, string>; sources: string[]; destination: string } {
  const words = args.split(/\s+/).filter(Boolean);
  const flags: Record<string, string> = {};
  while (words[0]?.startsWith('--')) {
    const [name = '', value = ''] = (words.shift() ?? '').slice(2).split('=');
    flags[name] = value;
  }
  const destination = words.pop() ?? '';
  return { flags, sources: words, destination };
}

function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches any number of folders, including none.
      source += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/**
 * Whether Docker leaves `file` (relative to the context) out of the build context, with .dockerignore
 * semantics: patterns in order, the last one matching the path or one of its parent folders decides, `!`
 * re-includes.
 */
export function dockerIgnores(dockerignore: string, file: string): boolean {
  const rules = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negated = l.startsWith('!');
      const pattern = path.posix.normalize((negated ? l.slice(1) : l).trim()).replace(/^\/+|\/+$/g, '');
      return { negated, regexp: globToRegExp(pattern) };
    });
  const parts = path.posix.normalize(file).split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (candidates.some((candidate) => rule.regexp.test(candidate))) ignored = !rule.negated;
  }
  return ignored;
}
