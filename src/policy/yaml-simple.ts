/**
 * The plain shape most policy YAML takes, read without the `yaml` package (about 100 us a document there,
 * nearly all of it generic machinery): block mappings and sequences indented with spaces, single-line flow
 * collections, plain and simply quoted scalars, comments and `---`. Anything else — anchors, tags, block
 * scalars, escapes, multi-line scalars, duplicate keys, odd keys or numbers — returns undefined, and the
 * caller reads the text with the full parser, which also gives every error its position. Where it answers,
 * the values are exactly those `yaml` (YAML 1.2 core schema) gives.
 */

/** Thrown (and caught below) when the text leaves the plain shape. */
const OUTSIDE = Symbol('outside the plain shape');

// Characters that start or mean constructs this reader leaves to the full parser; control characters
// (tabs, \r) and non-ASCII text go there too.
const UNSUPPORTED = /[^\n\x20-\x7e]|[&*!|>%@`?\\]/;
const KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;
// Keys the core schema reads as something other than the string they spell.
const SPECIAL_KEY = /^(?:[Nn]ull|NULL|[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const NULL = /^(?:~|[Nn]ull|NULL)$/;
const INT = /^[-+]?[0-9]{1,15}$/;
// Numbers this reader does not convert itself (floats, octal, hex, .inf/.nan, long integers).
const OTHER_NUMBER = /^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
// A plain scalar may not start with an indicator (a lone `-` or `- ` starts a sequence).
const PLAIN_START = /^(?:[^-?:,[\]{}#&*!|>'"%@`\s]|-[^\s])/;
const MAX_DEPTH = 64;

interface Line {
  indent: number;
  text: string;
}

function outside(): never {
  throw OUTSIDE;
}

function scalar(text: string): unknown {
  if (!PLAIN_START.test(text) || text.includes(': ') || text.endsWith(':')) outside();
  if (NULL.test(text)) return null;
  if (/^(?:[Tt]rue|TRUE)$/.test(text)) return true;
  if (/^(?:[Ff]alse|FALSE)$/.test(text)) return false;
  if (INT.test(text)) return parseInt(text, 10);
  if (OTHER_NUMBER.test(text)) outside();
  return text;
}

function setKey(map: Record<string, unknown>, key: string, value: unknown): void {
  if (!KEY.test(key) || SPECIAL_KEY.test(key) || key in map) outside();
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
  blockValue(): { value: unknown } | undefined {
    this.spaces();
    if (this.atEnd()) return undefined;
    const char = this.text[this.pos];
    let value: unknown;
    if (char === '{') value = this.flowMap(1);
    else if (char === '[') value = this.flowSeq(1);
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

  node(indent: number, depth: number): unknown {
    if (depth > MAX_DEPTH) outside();
    const line = this.lines[this.index];
    if (line === undefined || line.indent !== indent) return outside();
    return line.text.startsWith('- ') ? this.sequence(indent, depth) : this.mapping(indent, depth);
  }

  /** The value of `key:` or `-` with nothing after it on its line. */
  nested(indent: number, depth: number, sequenceAtSameIndent: boolean): unknown {
    const next = this.lines[this.index];
    if (next === undefined || next.indent < indent) return null;
    if (next.indent > indent) return this.node(next.indent, depth + 1);
    return sequenceAtSameIndent && next.text.startsWith('- ') ? this.sequence(indent, depth + 1) : null;
  }

  mapping(indent: number, depth: number): Record<string, unknown> {
    const map: Record<string, unknown> = {};
    for (let line = this.lines[this.index]; line !== undefined && line.indent >= indent; line = this.lines[this.index]) {
      if (line.indent > indent || line.text.startsWith('- ')) outside();
      const match = /^([^:]*):(?= |$)/.exec(line.text);
      if (!match?.[1]) return outside();
      const inline = new Inline(line.text);
      inline.pos = match[0].length;
      const value = inline.blockValue();
      this.index += 1;
      setKey(map, match[1], value ? value.value : this.nested(indent, depth, true));
    }
    return map;
  }

  sequence(indent: number, depth: number): unknown[] {
    const items: unknown[] = [];
    for (let line = this.lines[this.index]; line !== undefined && line.indent >= indent; line = this.lines[this.index]) {
      if (line.indent > indent || !line.text.startsWith('- ')) break;
      const rest = line.text.slice(2);
      const content = rest.trimStart();
      if (content.startsWith('- ')) outside();
      const itemIndent = indent + 2 + rest.length - content.length;
      if (/^[^\s:'"[{#][^:]*:(?= |$)/.test(content)) {
        // `- key: value` opens a mapping whose further keys line up with `key`.
        this.lines[this.index] = { indent: itemIndent, text: content };
        items.push(this.mapping(itemIndent, depth + 1));
        continue;
      }
      const inline = new Inline(line.text);
      inline.pos = 2;
      const value = inline.blockValue();
      this.index += 1;
      items.push(value ? value.value : this.nested(indent, depth, false));
    }
    if (this.lines[this.index] !== undefined && (this.lines[this.index]?.indent ?? 0) > indent) outside();
    return items;
  }
}

/** The lines of each `---`-separated document, without blank lines and comment lines. */
function documentsOf(text: string): Line[][] {
  const documents: Line[][] = [[]];
  for (const raw of text.split('\n')) {
    if (raw.startsWith('---') || raw.startsWith('...')) {
      if (raw !== '---') outside();
      documents.push([]);
      continue;
    }
    const content = raw.trimStart();
    if (content === '' || content.startsWith('#')) continue;
    documents[documents.length - 1]?.push({ indent: raw.length - content.length, text: content.trimEnd() });
  }
  // Only the text before the first `---` may hold no document; an empty `---` document is a null one.
  if (documents.slice(1).some((lines) => lines.length === 0)) outside();
  return documents[0]?.length === 0 ? documents.slice(1) : documents;
}

/**
 * The values readYaml would give (a top-level list's items each count as a document), or undefined when
 * the text is not of the plain shape this reader knows.
 */
export function readSimpleYaml(text: string): unknown[] | undefined {
  if (UNSUPPORTED.test(text)) return undefined;
  try {
    const values: unknown[] = [];
    for (const lines of documentsOf(text)) {
      const block = new Block(lines);
      const value = block.node(0, 0);
      if (block.index !== lines.length) outside();
      if (Array.isArray(value)) values.push(...value);
      else values.push(value);
    }
    return values;
  } catch (error) {
    if (error === OUTSIDE) return undefined;
    throw error;
  }
}
