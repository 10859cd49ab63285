/**
 * `serve --admin-address 127.0.0.1:PORT` keeps /status and /metrics local: the admin server listens on that
 * address only, so a connection to any other address of the machine is refused. (Other loopback addresses
 * stand in for the pod's network interface: binding 0.0.0.0 would accept them too.)
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServeProcess } from '../support/serve-process.ts';

/** How a TCP connect to host:port ends: 'connected' or the error code. */
function connect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(5_000, () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** The README's exec probe for a loopback-only admin port (the kubelet's httpGet probes cannot reach it). */
const PROBE_SCRIPT = "fetch('http://127.0.0.1:9090/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))";

/** The exit code of `node -e script`, run as the image would run it. */
function probe(script: string): Promise<number> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', script], { timeout: 10_000 }, (error) => resolve(error ? Number(error.code ?? 1) : 0));
  });
}

describe('serve --admin-address 127.0.0.1:PORT', () => {
  let serve: ServeProcess | undefined;
  beforeAll(async () => {
    // ServeProcess runs `serve --config-dir examples/basic --xds-address 127.0.0.1:0 --admin-address 127.0.0.1:0`.
    serve = await ServeProcess.start('examples/basic');
  }, 30_000);
  afterAll(() => serve?.kill());

  it('says where admin listens, and answers there', async () => {
    const entry = await serve!.logged((e) => e['msg'] === 'infermesh serving');
    expect(entry['admin']).toBe(`127.0.0.1:${serve!.adminPort}`);
    const health = await fetch(`http://127.0.0.1:${serve!.adminPort}/healthz`);
    expect(health.status).toBe(200);
    const status = await fetch(`http://127.0.0.1:${serve!.adminPort}/status`);
    expect(status.status).toBe(200);
  });

  it('refuses connections to the same port on any other address', async () => {
    expect(await connect('127.0.0.1', serve!.adminPort)).toBe('connected');
    for (const other of ['127.0.0.253', '127.1.2.3']) expect(await connect(other, serve!.adminPort), other).toBe('ECONNREFUSED');
  });

  it("the README's exec probe passes on a ready server and fails where nothing answers", async () => {
    const readme = readFileSync(path.join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    expect(readme).toContain(`[/nodejs/bin/node, -e, "${PROBE_SCRIPT}"]`);
    expect(await probe(PROBE_SCRIPT.replace(':9090/', `:${serve!.adminPort}/`))).toBe(0);
    expect(await probe(PROBE_SCRIPT.replace('127.0.0.1:9090/', `127.0.0.253:${serve!.adminPort}/`))).toBe(1);
  });
});
