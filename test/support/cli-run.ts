import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.ts';

/** Runs the infermesh CLI in this process: its exit code and what it wrote to stdout and stderr. */
export async function runCli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (append: (text: string) => void) => new Writable({ write: (chunk: Buffer, _encoding, done) => (append(chunk.toString()), done()) });
  const code = await main(argv, sink((text) => (out += text)), sink((text) => (err += text)));
  return { code, out, err };
}
