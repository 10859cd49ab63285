import { Writable } from 'node:stream';
import { afterEach } from 'vitest';
import { type InspectDeps, inspectCommand } from '../../src/cli/inspect.ts';
import { type FakeServer, type Route, startFake } from './fake-admin.ts';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

const servers: FakeServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** A fake admin server closed after the test. */
export async function fake(routes: Record<string, Route>): Promise<FakeServer> {
  const server = await startFake(routes);
  servers.push(server);
  return server;
}

export async function run(argv: string[], deps: InspectDeps = {}): Promise<{ code: number; out: string; err: string }> {
  const out = new Capture();
  const err = new Capture();
  const code = await inspectCommand(argv, out, err, deps);
  return { code, out: out.text, err: err.text };
}

/** The table's header and data rows as cells (columns are two or more spaces apart; the dashed rule is left out). */
export function rows(table: string): string[][] {
  const lines = table.split('\n');
  const start = lines.findIndex((line) => line.startsWith('MODEL'));
  const end = lines.indexOf('', start);
  return lines
    .slice(start, end)
    .filter((line) => !line.startsWith('---'))
    .map((line) => line.trim().split(/ {2,}/));
}
