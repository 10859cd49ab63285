import { describe, expect, it } from 'vitest';
import { escapeControl, excerpt, printableLine, quote } from '../../src/util/printable.ts';

describe('printable text', () => {
  it('escapes every control character, so text stays on one line and cannot move the cursor', () => {
    const hostile = 'a\nb\rc\td\u0000e\u001b[31mf\u007fg\u0085h\u2028i\u202ej';
    const escaped = escapeControl(hostile);
    expect(escaped).toBe('a\\nb\\rc\\td\\u0000e\\u001b[31mf\\u007fg\\u0085h\\u2028i\\u202ej');
    expect(escaped).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/u);
  });

  it('cuts long text to an excerpt that says how much was left out', () => {
    expect(excerpt('short')).toBe('short');
    const long = 'x'.repeat(1_000_000);
    const cut = excerpt(long, 10);
    expect(cut).toBe('xxxxxxxxxx...(999990 more characters)');
  });

  it('quotes as JSON, escaped and cut', () => {
    expect(quote('a"b\u001b')).toBe('"a\\"b\\u001b"');
    expect(quote('y'.repeat(100), 5)).toBe('"yyyyy"...(95 more characters)');
  });

  it('bounds a whole message', () => {
    expect(printableLine(`${'m'.repeat(5_000)}\nforged`).length).toBeLessThan(1_100);
  });
});
