import { type Document, isMap, isNode, isSeq, Scalar, type YAMLMap, type YAMLSeq } from 'yaml';

/**
 * Small edits on a parsed YAML document that touch only what must change: each returns whether it changed
 * anything, and leaves nodes that already hold the wanted value (with their comments and style) alone.
 */

export type Path = readonly (string | number)[];

/** The JavaScript value of a node, or of a plain value. */
export function plainValue(doc: Document, node: unknown): unknown {
  return isNode(node) ? node.toJS(doc) : node;
}

/** Structural equality of JSON-like values; object key order does not matter. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => sameJson(item, b[i]));
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const aKeys = Object.keys(a);
  const bRecord = b as Record<string, unknown>;
  return aKeys.length === Object.keys(b).length && aKeys.every((key) => key in bRecord && sameJson((a as Record<string, unknown>)[key], bRecord[key]));
}

/** The string value at `path` (a scalar), if any. */
export function stringAt(doc: Document, path: Path): string | undefined {
  const value = doc.getIn(path);
  return typeof value === 'string' ? value : undefined;
}

function parentMap(doc: Document, path: Path): YAMLMap {
  if (path.length === 0) throw new Error('a document path must not be empty');
  return ensureMap(doc, path.slice(0, -1));
}

/**
 * The block map at `path`, created when missing. A placeholder that is not a map (`annotations:` with
 * nothing after it) is replaced.
 */
function ensureMap(doc: Document, path: Path): YAMLMap {
  const node = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (isMap(node)) return node;
  const map = doc.createNode({}) as YAMLMap;
  parentMap(doc, path).set(path[path.length - 1], map);
  return map;
}

/** The sequence at `path`, created when missing (or replacing a non-sequence placeholder). */
function ensureSeq(doc: Document, path: Path): YAMLSeq {
  const node = doc.getIn(path, true);
  if (isSeq(node)) return node;
  const seq = doc.createNode([]) as YAMLSeq;
  parentMap(doc, path).set(path[path.length - 1], seq);
  return seq;
}

/** Sets a string that must stay a string whatever it looks like (e.g. "1.0"): always double-quoted. */
export function setQuotedString(doc: Document, path: Path, value: string): boolean {
  if (stringAt(doc, path) === value) return false;
  const scalar = new Scalar(value);
  scalar.type = Scalar.QUOTE_DOUBLE;
  parentMap(doc, path).set(path[path.length - 1], scalar);
  return true;
}

function nameOf(node: unknown): unknown {
  return isMap(node) ? node.get('name') : undefined;
}

/**
 * Makes the list at `seqPath` hold `item` under its name: replaced in place when it differs, added at the
 * start or the end when missing, untouched when equal.
 */
export function upsertNamed(doc: Document, seqPath: Path, item: Record<string, unknown>, at: 'start' | 'end'): boolean {
  const seq = ensureSeq(doc, seqPath);
  const index = seq.items.findIndex((node) => nameOf(node) === item['name']);
  if (index >= 0 && sameJson(plainValue(doc, seq.items[index]), item)) return false;
  const node = doc.createNode(item);
  if (index >= 0) seq.items[index] = node;
  else if (at === 'start') seq.items.unshift(node);
  else seq.items.push(node);
  return true;
}

/** Removes the items named `name` from the list at `seqPath`; drops the list if that empties it. */
export function removeNamed(doc: Document, seqPath: Path, name: string): boolean {
  const seq = doc.getIn(seqPath, true);
  if (!isSeq(seq)) return false;
  const kept = seq.items.filter((node) => nameOf(node) !== name);
  if (kept.length === seq.items.length) return false;
  if (kept.length === 0) doc.deleteIn(seqPath);
  else seq.items = kept;
  return true;
}

/** The items of the list at `path` (empty when there is none). */
export function seqItems(doc: Document, path: Path): unknown[] {
  const seq = doc.getIn(path, true);
  return isSeq(seq) ? seq.items : [];
}

/** True for `false` and "false" (annotations are strings, but a bare false is a common slip). */
export function isFalse(value: unknown): boolean {
  return value === false || (typeof value === 'string' && value.toLowerCase() === 'false');
}
