/** A data key's YAML text -> the documents it holds, with positions for error messages. */
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Node } from 'yaml';
import { readSimpleYaml } from '../util/yaml-simple.ts';

export interface Position {
  line: number;
  column: number;
}

export interface YamlDocument {
  value: unknown;
  /** The node the document came from, to locate field errors. */
  node: Node;
}

export type YamlRead =
  | { ok: true; documents: YamlDocument[]; locate: (node: Node, path: readonly PropertyKey[], atKey: boolean) => Position | undefined }
  | { ok: false; message: string; position?: Position };

/** First line of a yaml error without its " at line L, column C:" tail (the position is reported separately). */
function firstLine(message: string): string {
  return (message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
}

/** The node at `path`, or the deepest node on the way (the mapping that lacks a required field). */
function nodeAt(root: Node, path: readonly PropertyKey[], atKey: boolean): Node {
  let node = root;
  for (const [i, segment] of path.entries()) {
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      next = atKey && i === path.length - 1 ? pair?.key : (pair?.value ?? pair?.key);
    } else if (isSeq(node) && typeof segment === 'number') {
      next = node.items[segment];
    }
    if (!isNodeLike(next)) break;
    node = next;
  }
  return node;
}

function isNodeLike(value: unknown): value is Node {
  return isMap(value) || isSeq(value) || isScalar(value);
}

/** Kubernetes holds at most 1 MiB in a whole ConfigMap. */
export const MAX_TEXT_LENGTH = 1024 * 1024;
/** A policy nests four or five levels; far deeper is an attack on the parser (one error per open level). */
export const MAX_FLOW_DEPTH = 64;

/** The deepest nesting of flow collections ([ and {) outside quotes and comments, stopping past `limit`. */
function flowDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length && deepest <= limit; i++) {
    const char = text[i];
    if (quote !== undefined) {
      if (char === '\\' && quote === '"') i += 1;
      else if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '#' && (i === 0 || /\s/.test(text[i - 1] ?? ''))) {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end;
    } else if (char === '[' || char === '{') {
      deepest = Math.max(deepest, (depth += 1));
    } else if ((char === ']' || char === '}') && depth > 0) {
      depth -= 1;
    }
  }
  return deepest;
}

/** Limits checked before parsing, so no document costs more than its size in time and memory. */
function limitProblem(text: string): string | undefined {
  if (text.length > MAX_TEXT_LENGTH) return `YAML error: ${text.length} characters; a ConfigMap holds at most ${MAX_TEXT_LENGTH} bytes`;
  if (flowDepth(text, MAX_FLOW_DEPTH) > MAX_FLOW_DEPTH) return `YAML error: nested deeper than ${MAX_FLOW_DEPTH} levels`;
  return undefined;
}

/**
 * The documents' values, read fast, when the text is within the limits and of the plain shape most policies
 * take (src/util/yaml-simple.ts); undefined otherwise, and then readYaml reads it, with positions for errors.
 */
export function readPlainYaml(text: string): unknown[] | undefined {
  return limitProblem(text) === undefined ? readSimpleYaml(text) : undefined;
}

/**
 * One policy document, a YAML list of them, or several `---`-separated documents (lists flattened in order).
 * Any syntax error rejects the key as a whole: positions of later documents cannot be trusted.
 */
export function readYaml(text: string): YamlRead {
  const problem = limitProblem(text);
  if (problem) return { ok: false, message: problem };
  try {
    return parseYaml(text);
  } catch (error) {
    // The yaml library reports what it finds; anything it throws instead still names this key.
    return { ok: false, message: `YAML error: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function parseYaml(text: string): YamlRead {
  const lineCounter = new LineCounter();
  const documents: YamlDocument[] = [];
  for (const doc of parseAllDocuments(text, { lineCounter, prettyErrors: true, uniqueKeys: true, logLevel: 'error' })) {
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem) {
      const at = problem.linePos?.[0];
      return { ok: false, message: `YAML syntax error: ${firstLine(problem.message)}`, ...(at ? { position: { line: at.line, column: at.col } } : {}) };
    }
    const contents = doc.contents;
    if (!contents) continue;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      const { line, col } = lineCounter.linePos(contents.range[0]);
      return { ok: false, message: `YAML error: ${error instanceof Error ? error.message : String(error)}`, position: { line, column: col } };
    }
    if (isSeq(contents) && Array.isArray(value)) {
      contents.items.forEach((item, i) => documents.push({ value: value[i], node: isNodeLike(item) ? item : contents }));
    } else {
      documents.push({ value, node: contents });
    }
  }
  const locate = (node: Node, path: readonly PropertyKey[], atKey: boolean): Position | undefined => {
    const start = nodeAt(node, path, atKey).range?.[0];
    if (start === undefined) return undefined;
    const { line, col } = lineCounter.linePos(start);
    return { line, column: col };
  };
  return { ok: true, documents, locate };
}
