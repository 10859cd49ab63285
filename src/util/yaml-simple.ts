/**
 * The plain shape most policy documents and Kubernetes manifests take, read without the `yaml` package
 * (about 100 us a small policy there, nearly all of it generic machinery): block mappings and sequences
 * indented with spaces, single-line flow collections, plain and simply quoted scalars, `|` and `|-` literals
 * (a ConfigMap manifest's data), comments and `---`. Anything else — anchors, tags, folded scalars, escapes,
 * multi-line plain or quoted scalars, duplicate keys, odd keys or numbers — returns undefined, and the caller
 * reads the text with the full parser, which also gives every error its position. Where it answers, the
 * values are exactly those `yaml` (YAML 1.2 core schema, no `<<` merges) gives.
 */

/** Thrown (and caught below) when the text leaves the plain shape. */
const OUTSIDE = Symbol('outside the plain shape');

// Characters whose meaning depends on the reader (tabs, \r, other controls, Unicode line breaks, byte-order
// marks, surrogates) send the whole text to the full parser.
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff]/;
// Characters that start or mean constructs this reader leaves to the full parser, and non-ASCII text, on a
// line it reads as structure; comments and literal lines may hold them.
const SPECIAL = /[^\x20-\x7e]|[&*!>%@`?\\]/;
// Keys this reader takes (never a number; the null and boolean words are refused in setKey).
const KEY = /^[A-Za-z_][A-Za-z0-9_./-]*$/;
// The plain scalars the core schema reads as null or a boolean.
const CORE_WORDS = new Map<string, { value: null | boolean }>([
  ...['~', 'null', 'Null', 'NULL'].map((word) => [word, { value: null }] as const),
  ...['true', 'True', 'TRUE'].map((word) => [word, { value: true }] as const),
  ...['false', 'False', 'FALSE'].map((word) => [word, { value: false }] as const),
]);
// Only these can be numbers in the core schema.
const NUMBER_START = /^[-+.0-9]/;
const INT = /^[-+]?[0-9]{1,15}$/;
// Numbers this reader does not convert itself (floats, octal, hex, .inf/.nan, long integers).
const OTHER_NUMBER = /^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
// A plain scalar may not start with an indicator (a lone `-` or `- ` starts a sequence).
const PLAIN_START = /^(?:[^-?:,[\]{}#&*!|>'"%@`\s]|-[^\s])/;
/** Block and flow levels together; deeper text is left to the full parser and its limits. */
const MAX_DEPTH = 64;

interface Line {
  indent: number;
  /** Without the indentation and trailing spaces. */
  text: string;
  /** As written, for the lines of a literal. */
  raw: string;
  /** Blank or a comment only. */
  blank: boolean;
  /** Holds a SPECIAL character (then it must not be read as structure). */
  special: boolean;
}

function outside(): never {
  throw OUTSIDE;
}

function scalar(text: string): unknown {
  if (!PLAIN_START.test(text) || text.includes(': ') || text.endsWith(':')) outside();
  const word = CORE_WORDS.get(text);
  if (word !== undefined) return word.value;
  if (!NUMBER_START.test(text)) return text;
  if (INT.test(text)) return parseInt(text, 10);
  if (OTHER_NUMBER.test(text)) outside();
  return text;
}

function setKey(map: Record<string, unknown>, key: string, value: unknown): void {
  if (!KEY.test(key) || CORE_WORDS.has(key) || key in map) outside();
  map[key] = value;
}

/** One line's flow collections and scalars, read with a cursor. */
class Inline {
  pos = 0;
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }

  spaces(): number {
    const start = this.pos;
    while (this.text[this.pos] === ' ') this.pos += 1;
    return this.pos - start;
  }

  /** The rest of the line is empty or a comment (a `#` after a space). */
  atEnd(): boolean {
    return this.pos >= this.text.length || (this.text[this.pos] === '#' && this.text[this.pos - 1] === ' ');
  }

  quoted(): string {
    const quote = this.text[this.pos];
    let value = '';
    for (let i = this.pos + 1; i < this.text.length; i++) {
      if (this.text[i] !== quote) continue;
      if (quote === "'" && this.text[i + 1] === "'") {
        value += this.text.slice(this.pos + 1, i + 1);
        this.pos = i + 1;
        i += 1;
        continue;
      }
      value += this.text.slice(this.pos + 1, i);
      this.pos = i + 1;
      return value;
    }
    return outside();
  }

  /** A value inside a flow collection. */
  flowValue(depth: number): unknown {
    this.spaces();
    const char = this.text[this.pos];
    if (char === '{') return this.flowMap(depth + 1);
    if (char === '[') return this.flowSeq(depth + 1);
    if (char === '"' || char === "'") return this.quoted();
    const start = this.pos;
    while (this.pos < this.text.length && !',[]{}:#'.includes(this.text[this.pos] ?? '')) this.pos += 1;
    const text = this.text.slice(start, this.pos).trimEnd();
    if (text === '') outside();
    return scalar(text);
  }

  /** After an item: `,` (true) or the closing bracket (false). */
  separator(close: string): boolean {
    this.spaces();
    const char = this.text[this.pos];
    this.pos += 1;
    if (char === ',') return true;
    if (char === close) return false;
    return outside();
  }

  flowMap(depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) outside();
    this.pos += 1;
    const map: Record<string, unknown> = {};
    this.spaces();
    if (this.text[this.pos] === '}') {
      this.pos += 1;
      return map;
    }
    do {
      this.spaces();
      const colon = this.text.indexOf(': ', this.pos);
      if (colon < 0) outside();
      const key = this.text.slice(this.pos, colon);
      this.pos = colon + 1;
      setKey(map, key, this.flowValue(depth));
    } while (this.separator('}'));
    return map;
  }

  flowSeq(depth: number): unknown[] {
    if (depth > MAX_DEPTH) outside();
    this.pos += 1;
    const items: unknown[] = [];
    this.spaces();
    if (this.text[this.pos] === ']') {
      this.pos += 1;
      return items;
    }
    do items.push(this.flowValue(depth));
    while (this.separator(']'));
    return items;
  }

  /** The value after `key: ` or `- `; undefined when the line ends there (the value is on the lines below). */
  blockValue(depth: number): { value: unknown } | undefined {
    this.spaces();
    if (this.atEnd()) return undefined;
    const char = this.text[this.pos];
    let value: unknown;
    if (char === '{') value = this.flowMap(depth + 1);
    else if (char === '[') value = this.flowSeq(depth + 1);
    else if (char === '"' || char === "'") value = this.quoted();
    else {
      const comment = this.text.indexOf(' #', this.pos);
      const text = this.text.slice(this.pos, comment < 0 ? undefined : comment).trimEnd();
      // Flow indicators inside a block scalar are legal YAML, but rare enough to leave to the full parser.
      if (/[[\]{},]/.test(text)) outside();
      return { value: scalar(text) };
    }
    this.spaces();
    if (!this.atEnd()) outside();
    return { value };
  }
}

/** Block structure over the lines of one document. */
class Block {
  index = 0;
  readonly lines: Line[];
  constructor(lines: Line[]) {
    this.lines = lines;
  }

  /** The next line that is not blank or a comment. */
  peek(): Line | undefined {
    while (this.lines[this.index]?.blank) this.index += 1;
    const line = this.lines[this.index];
    return line?.special ? outside() : line;
  }

  node(indent: number, depth: number): unknown {
    if (depth > MAX_DEPTH) outside();
    const line = this.peek();
    if (line === undefined || line.indent !== indent) return outside();
    return line.text.startsWith('- ') ? this.sequence(indent, depth) : this.mapping(indent, depth);
  }

  /** The value of `key:` or `-` with nothing after it on its line. */
  nested(indent: number, depth: number, sequenceAtSameIndent: boolean): unknown {
    const next = this.peek();
    if (next === undefined || next.indent < indent) return null;
    if (next.indent > indent) return this.node(next.indent, depth + 1);
    return sequenceAtSameIndent && next.text.startsWith('- ') ? this.sequence(indent, depth + 1) : null;
  }

  mapping(indent: number, depth: number): Record<string, unknown> {
    const map: Record<string, unknown> = {};
    for (let line = this.peek(); line !== undefined && line.indent >= indent; line = this.peek()) {
      if (line.indent > indent || line.text.startsWith('- ')) outside();
      const match = /^([^:]*):(?= |$)/.exec(line.text);
      if (!match?.[1]) return outside();
      this.index += 1;
      const literal = /^: +\|(-?)(?: +#.*)?$/.exec(line.text.slice(match[0].length - 1));
      if (literal) {
        setKey(map, match[1], this.literal(indent, literal[1] === '-'));
        continue;
      }
      const inline = new Inline(line.text);
      inline.pos = match[0].length;
      const value = inline.blockValue(depth);
      setKey(map, match[1], value ? value.value : this.nested(indent, depth, true));
    }
    return map;
  }

  /**
   * The lines of a `|` (`|-`: strip) literal under a key at `indent`: indented as its first line, which must
   * come at once; blank lines inside are kept, those at the end dropped; clipped to one final newline.
   */
  literal(indent: number, strip: boolean): string {
    const kept: string[] = [];
    let contentIndent: number | undefined;
    for (let line = this.lines[this.index]; line !== undefined; line = this.lines[this.index]) {
      const spacesOnly = line.text === '';
      if (spacesOnly && (contentIndent === undefined || line.raw.length > contentIndent)) outside();
      if (!spacesOnly) {
        contentIndent ??= line.indent > indent ? line.indent : outside();
        if (line.indent < contentIndent) break;
      }
      kept.push(line.raw.slice(contentIndent));
      this.index += 1;
    }
    while (kept.at(-1) === '') kept.pop();
    if (kept.length === 0) outside();
    return kept.join('\n') + (strip ? '' : '\n');
  }

  sequence(indent: number, depth: number): unknown[] {
    const items: unknown[] = [];
    for (let line = this.peek(); line !== undefined && line.indent >= indent; line = this.peek()) {
      if (line.indent > indent || !line.text.startsWith('- ')) break;
      const rest = line.text.slice(2);
      const content = rest.trimStart();
      if (content.startsWith('- ')) outside();
      const itemIndent = indent + 2 + rest.length - content.length;
      if (/^[^\s:'"[{#][^:]*:(?= |$)/.test(content)) {
        // `- key: value` opens a mapping whose further keys line up with `key`.
        this.lines[this.index] = { ...line, indent: itemIndent, text: content };
        items.push(this.mapping(itemIndent, depth + 1));
        continue;
      }
      const inline = new Inline(line.text);
      inline.pos = 2;
      const value = inline.blockValue(depth);
      this.index += 1;
      items.push(value ? value.value : this.nested(indent, depth, false));
    }
    if ((this.peek()?.indent ?? 0) > indent) outside();
    return items;
  }
}

/** The lines of each `---`-separated document. */
function documentsOf(text: string): Line[][] {
  const documents: Line[][] = [[]];
  for (const raw of text.split('\n')) {
    if (raw.startsWith('---') || raw.startsWith('...')) {
      if (raw !== '---') outside();
      documents.push([]);
      continue;
    }
    const content = raw.trimStart();
    const blank = content === '' || content.startsWith('#');
    const line = { indent: raw.length - content.length, text: content.trimEnd(), raw, blank, special: !blank && SPECIAL.test(raw) };
    documents[documents.length - 1]?.push(line);
  }
  // Only the text before the first `---` may hold no document; an empty `---` document is a null one.
  const empty = (lines: Line[]) => lines.every((line) => line.blank);
  if (documents.slice(1).some(empty)) outside();
  return documents[0] && empty(documents[0]) ? documents.slice(1) : documents;
}

/**
 * Each document's value, as `yaml`'s parseAllDocuments + toJS give them (a file of Kubernetes objects), or
 * undefined when the text is not of the plain shape this reader knows.
 */
export function readSimpleDocuments(text: string): unknown[] | undefined {
  if (CONTROL.test(text)) return undefined;
  try {
    return documentsOf(text).map((lines) => {
      const block = new Block(lines);
      const value = block.node(0, 0);
      if (block.peek() !== undefined) outside();
      return value;
    });
  } catch (error) {
    if (error === OUTSIDE) return undefined;
    throw error;
  }
}

/** The values readYaml would give: a top-level list's items each count as a document. */
export function readSimpleYaml(text: string): unknown[] | undefined {
  return readSimpleDocuments(text)?.flatMap((value) => (Array.isArray(value) ? value : [value]));
}
