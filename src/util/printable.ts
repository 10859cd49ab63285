/**
 * Text from users (field names, values, ConfigMap and file names) reaches terminals, logs and Events. It
 * must not move the cursor, forge lines or fill a screen: control characters are escaped and long values
 * are cut to an excerpt that says how much was left out.
 */

/** How much of a user-supplied value an error message quotes. */
export const EXCERPT_LENGTH = 60;
/** The longest line an error message may be once formatted. */
export const MAX_MESSAGE_LENGTH = 1_000;

// C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidi overrides that reorder text.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(char: string): string {
  return NAMED[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** The text with every control character written as an escape (`\n`, `\u001b`), so it stays on one line. */
export function escapeControl(text: string): string {
  return text.replace(UNPRINTABLE, escapeOne);
}

/** At most `limit` characters of the text, escaped, with a note of how many more there were. */
export function excerpt(text: string, limit = EXCERPT_LENGTH): string {
  const head = escapeControl(text.length <= limit ? text : text.slice(0, limit));
  return text.length <= limit ? head : `${head}...(${text.length - limit} more characters)`;
}

/** A user-supplied string in double quotes, escaped as JSON, cut to an excerpt when long. */
export function quote(text: string, limit = EXCERPT_LENGTH): string {
  if (text.length <= limit) return escapeControl(JSON.stringify(text));
  return `${escapeControl(JSON.stringify(text.slice(0, limit)))}...(${text.length - limit} more characters)`;
}

/** A whole message made safe to print as one line of bounded length. */
export function printableLine(text: string, limit = MAX_MESSAGE_LENGTH): string {
  return excerpt(text, limit);
}
