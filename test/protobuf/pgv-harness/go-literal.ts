/**
 * A parser for the small subset of Go expressions that PGV's tests/harness/executor/cases.go writes its
 * test vectors in: composite literals (`&cases.X{Val: 1}`, `[]int32{1, 2}`, `map[string]bool{"a": true}`,
 * elided `{Val: 1}`), string / rune-free number / identifier literals, calls (`[]byte("x")`,
 * `math.Inf(1)`, `time.Now().Unix()`) and `a + b`. Used only by convert-cases.ts.
 */

export type GoNode =
  | { kind: 'composite'; type: string | undefined; entries: { key?: GoNode; value: GoNode }[] }
  | { kind: 'string'; bytes: Buffer }
  | { kind: 'number'; text: string }
  | { kind: 'ident'; name: string }
  | { kind: 'call'; callee: string; args: GoNode[] }
  | { kind: 'add'; left: GoNode; right: GoNode };

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34, "'": 39 };

/** The bytes of a Go interpreted string literal body (escapes decoded; \x and octal are raw bytes). */
export function decodeGoString(body: string): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; ) {
    const char = body[i] ?? '';
    if (char !== '\\') {
      const codePoint = body.codePointAt(i) ?? 0;
      const text = String.fromCodePoint(codePoint);
      parts.push(Buffer.from(text, 'utf8'));
      i += text.length;
      continue;
    }
    const next = body[i + 1] ?? '';
    if (next in SIMPLE_ESCAPES) {
      parts.push(Buffer.from([SIMPLE_ESCAPES[next] ?? 0]));
      i += 2;
    } else if (next === 'x') {
      parts.push(Buffer.from([parseInt(body.slice(i + 2, i + 4), 16)]));
      i += 4;
    } else if (next === 'u' || next === 'U') {
      const digits = next === 'u' ? 4 : 8;
      parts.push(Buffer.from(String.fromCodePoint(parseInt(body.slice(i + 2, i + 2 + digits), 16)), 'utf8'));
      i += 2 + digits;
    } else if (/[0-7]/.test(next)) {
      parts.push(Buffer.from([parseInt(body.slice(i + 1, i + 4), 8)]));
      i += 4;
    } else {
      throw new Error(`unsupported escape \\${next} in ${JSON.stringify(body)}`);
    }
  }
  return Buffer.concat(parts);
}

type Token = { kind: 'string' | 'number' | 'ident' | 'punct'; text: string };

const TOKEN = /\s+|\/\/[^\n]*|("(?:[^"\\]|\\.)*")|(`[^`]*`)|(\d[\dA-Fa-fxX.eE]*(?:[eE][-+]?\d+)?)|([A-Za-z_][\w]*)|(\[\]|[{}()[\],:&*.+-])/y;

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < source.length) {
    const at = TOKEN.lastIndex;
    const match = TOKEN.exec(source);
    if (match === null) throw new Error(`cannot tokenize at ${JSON.stringify(source.slice(at, at + 30))}`);
    const [, quoted, raw, number, ident, punct] = match;
    if (quoted !== undefined || raw !== undefined) tokens.push({ kind: 'string', text: quoted ?? raw ?? '' });
    else if (number !== undefined) tokens.push({ kind: 'number', text: number });
    else if (ident !== undefined) tokens.push({ kind: 'ident', text: ident });
    else if (punct !== undefined) tokens.push({ kind: 'punct', text: punct });
  }
  return tokens;
}

/** Parses one Go expression (the whole of `source`). */
export function parseGoExpression(source: string): GoNode {
  const tokens = tokenize(source);
  let position = 0;
  const peek = (): Token | undefined => tokens[position];
  const isPunct = (text: string): boolean => peek()?.kind === 'punct' && peek()?.text === text;
  const expect = (text: string): void => {
    if (!isPunct(text)) throw new Error(`expected ${text} at token ${position} of ${source}`);
    position++;
  };

  function typeName(): string {
    if (isPunct('[]')) {
      position++;
      return `[]${typeName()}`;
    }
    if (isPunct('*')) {
      position++;
      return `*${typeName()}`;
    }
    const first = peek();
    if (first?.kind === 'ident' && first.text === 'map' && tokens[position + 1]?.text === '[') {
      position += 2;
      const key = typeName();
      expect(']');
      return `map[${key}]${typeName()}`;
    }
    return qualifiedName();
  }

  function qualifiedName(): string {
    const parts: string[] = [];
    for (;;) {
      const token = peek();
      if (token?.kind !== 'ident') throw new Error(`expected a name at token ${position} of ${source}`);
      parts.push(token.text);
      position++;
      if (!isPunct('.') || tokens[position + 1]?.kind !== 'ident') return parts.join('.');
      position++;
    }
  }

  function composite(type: string | undefined): GoNode {
    expect('{');
    const entries: { key?: GoNode; value: GoNode }[] = [];
    while (!isPunct('}')) {
      const first = expression();
      if (isPunct(':')) {
        position++;
        entries.push({ key: first, value: expression() });
      } else {
        entries.push({ value: first });
      }
      if (isPunct(',')) position++;
    }
    expect('}');
    return { kind: 'composite', type, entries };
  }

  function primary(): GoNode {
    const token = peek();
    if (token === undefined) throw new Error(`unexpected end of ${source}`);
    if (token.kind === 'string') {
      position++;
      const bytes = token.text.startsWith('`') ? Buffer.from(token.text.slice(1, -1), 'utf8') : decodeGoString(token.text.slice(1, -1));
      return { kind: 'string', bytes };
    }
    if (token.kind === 'number') {
      position++;
      return { kind: 'number', text: token.text };
    }
    if (isPunct('-')) {
      position++;
      const operand = primary();
      if (operand.kind !== 'number') throw new Error(`unsupported negation in ${source}`);
      return { kind: 'number', text: `-${operand.text}` };
    }
    if (isPunct('&')) {
      position++;
      return primary();
    }
    if (isPunct('{')) return composite(undefined);
    const type = typeName();
    if (isPunct('{')) return composite(type);
    let node: GoNode = { kind: 'ident', name: type };
    while (isPunct('(')) {
      position++;
      const args: GoNode[] = [];
      while (!isPunct(')')) {
        args.push(expression());
        if (isPunct(',')) position++;
      }
      expect(')');
      const callee: string = node.kind === 'ident' ? node.name : node.kind === 'call' ? node.callee + '()' : '?';
      node = { kind: 'call', callee, args };
      if (isPunct('.')) {
        position++;
        node = { kind: 'call', callee: `${callee}().${qualifiedName()}`, args: [] };
        if (!isPunct('(')) throw new Error(`expected a call in ${source}`);
        position++;
        expect(')');
      }
    }
    return node;
  }

  function expression(): GoNode {
    let node = primary();
    while (isPunct('+')) {
      position++;
      node = { kind: 'add', left: node, right: primary() };
    }
    return node;
  }

  const node = expression();
  if (position !== tokens.length) throw new Error(`trailing tokens in ${source}`);
  return node;
}

/** The `{"name", <message>, valid}` lines of cases.go (commented-out lines are skipped). */
export function caseLines(source: string): { name: string; message: string; valid: boolean }[] {
  const cases: { name: string; message: string; valid: boolean }[] = [];
  for (const line of source.split('\n')) {
    const match = /^\s*\{("(?:[^"\\]|\\.)*"),\s*(.*),\s*(true|false)\},?\s*$/.exec(line);
    if (match === null) continue;
    const [, name = '', message = '', valid = ''] = match;
    cases.push({ name: decodeGoString(name.slice(1, -1)).toString('utf8'), message, valid: valid === 'true' });
  }
  return cases;
}
