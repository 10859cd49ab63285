import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  readonly help: string;
  constructor(message: string, help: string) {
    super(message);
    this.help = help;
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with errors that name the command's valid options. */
export function parseCommandArgs<T extends Options>(argv: string[], options: T, help: string, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message, help);
  }
}

/** A flag's value that must be a whole number of at least 1 (a count, a size); throws naming the flag. */
export function wholeNumberFlag(flag: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) throw new Error(`${flag} "${text}" must be a whole number of at least 1`);
  return value;
}
