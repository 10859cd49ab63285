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
