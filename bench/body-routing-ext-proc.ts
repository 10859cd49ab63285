/**
 * Lua or ext_proc for routing by the JSON body (policy modelFromBody, src/envoy/model-from-body.ts): the same
 * job done both ways in one Envoy (the newest pinned) with a static configuration, one route on the model
 * header to a fake pod (127.0.3.201), wrk over HTTP/1.1, OpenAI chat bodies of ~1 KB and ~64 KB:
 *
 *   floor          no filter, the model header sent
 *   lua body       the model-from-body Lua filter as infermesh pushes it, no header: body buffered and read
 *   ext_proc hdr   ext_proc to a Node external processor (bench/ext-proc-server.ts), the header sent: one
 *                  round trip on the headers, the body not sent (mode_override)
 *   ext_proc body  ext_proc, no header: the buffered body sent to the processor, the header set from its answer
 *
 * Each: requests/s, p50/p99, Envoy CPU and the processor's CPU per request. Only the comparison lives here:
 * infermesh ships the Lua filter (bench/body-routing.ts measures it as pushed, with scoped routes).
 *
 *   BENCH_BODY_SECONDS (default 8)   BENCH_BODY_CONNECTIONS (default 8)
 *
 * `npx node bench/body-routing-ext-proc.ts`: progress on stderr, the JSON figures as the last stdout line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startFakeModelServer } from '../demo/fake-model-server.ts';
import { anyEnvoy } from '../scripts/envoy-lookup.ts';
import { modelFromBodyLua } from '../src/envoy/model-from-body.ts';
import { DEFAULT_SETTINGS } from '../src/model/types.ts';
import { freePort } from '../test/support/envoy-process.ts';
import { check, runBodyLoad, writeLoadFiles } from './body-routing.ts';
import { cpuUs } from './data-plane.ts';

const SECONDS = Number(process.env['BENCH_BODY_SECONDS'] ?? 8);
const POD_HOST = '127.0.3.201';
const MODEL = 'bench-chat';
const PATH = '/v1/chat/completions';

type Variant = 'floor' | 'lua body' | 'ext_proc hdr' | 'ext_proc body';
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
});
const log = (line: string) => process.stderr.write(`lua vs ext_proc: ${line}\n`);

const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };

function filtersOf(kind: 'none' | 'lua' | 'ext_proc'): object[] {
  if (kind === 'lua') {
    return [{ name: 'lua', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua', default_source_code: { inline_string: modelFromBodyLua(DEFAULT_SETTINGS) } } }, ROUTER];
  }
  if (kind === 'ext_proc') {
    return [
      {
        name: 'ext_proc',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor',
          grpc_service: { envoy_grpc: { cluster_name: 'extproc' } },
          processing_mode: { request_header_mode: 'SEND', response_header_mode: 'SKIP', request_body_mode: 'BUFFERED', response_body_mode: 'NONE', request_trailer_mode: 'SKIP', response_trailer_mode: 'SKIP' },
          allow_mode_override: true,
        },
      },
      ROUTER,
    ];
  }
  return [ROUTER];
}

const cluster = (name: string, host: string, port: number, http2: boolean) => ({
  name,
  type: 'STATIC',
  ...(http2
    ? { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicit_http_config: { http2_protocol_options: {} } } } }
    : {}),
  load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: port } } } }] }] },
});

function config(kind: 'none' | 'lua' | 'ext_proc', ports: { listener: number; admin: number; pod: number; extProc: number }): object {
  return {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: ports.admin } } },
    static_resources: {
      listeners: [
        {
          name: 'bench',
          address: { socket_address: { address: '127.0.0.1', port_value: ports.listener } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'bench',
                    route_config: { virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/', headers: [{ name: 'x-model', string_match: { exact: MODEL } }] }, route: { cluster: 'pod' } }] }] },
                    http_filters: filtersOf(kind),
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [cluster('pod', POD_HOST, ports.pod, false), cluster('extproc', '127.0.0.1', ports.extProc, true)],
    },
  };
}

async function startEnvoy(binary: string, file: string, adminPort: number): Promise<ChildProcess> {
  const child = spawn(binary, ['--config-path', file, '--concurrency', '1', '--use-dynamic-base-id', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.add(child);
  for (let waited = 0; waited < 20_000; waited += 100) {
    try {
      if ((await (await fetch(`http://127.0.0.1:${adminPort}/ready`)).text()).trim() === 'LIVE') return child;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('Envoy not LIVE after 20 s');
}

function startExtProc(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'ext-proc-server.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const port = /PORT (\d+)/.exec(out)?.[1];
      if (port) resolve({ child, port: Number(port) });
    });
    child.once('exit', (code) => reject(new Error(`ext_proc server exited ${code}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(child.pid, 'SIGTERM');
  await exited;
  children.delete(child);
}

export async function measureLuaVsExtProc(): Promise<unknown> {
  const envoy = anyEnvoy();
  if (!envoy.found) return { skipped: envoy.problem };
  const { dir, script, bodies } = writeLoadFiles('infermesh-bench-extproc-');
  const pod = await startFakeModelServer({ kind: 'triton', host: POD_HOST, pod: 'bench-extproc-pod', models: [MODEL], version: '1' });
  const extProc = await startExtProc();
  const rows: { variant: Variant; bodyBytes: number; rps: number; p50Ms: number; p99Ms: number; envoyCpuUs: number; processorCpuUs: number; errors: number }[] = [];
  try {
    const setups: { kind: 'none' | 'lua' | 'ext_proc'; variants: [Variant, string][] }[] = [
      { kind: 'none', variants: [['floor', MODEL]] },
      { kind: 'lua', variants: [['lua body', '']] },
      { kind: 'ext_proc', variants: [['ext_proc hdr', MODEL], ['ext_proc body', '']] },
    ];
    for (const setup of setups) {
      const ports = { listener: await freePort(), admin: await freePort(), pod: pod.httpPort, extProc: extProc.port };
      const file = path.join(dir, `${setup.kind}.json`);
      writeFileSync(file, JSON.stringify(config(setup.kind, ports)));
      const child = await startEnvoy(envoy.value.path, file, ports.admin);
      try {
        const url = `http://127.0.0.1:${ports.listener}${PATH}`;
        for (const body of bodies) {
          for (const [variant, header] of setup.variants) {
            await check(url, body.text, header);
            await runBodyLoad(script, url, body.file, header, 1);
            const envoyBefore = cpuUs(child.pid);
            const processorBefore = cpuUs(extProc.child.pid);
            const run = await runBodyLoad(script, url, body.file, header, SECONDS);
            const row = {
              variant,
              bodyBytes: body.bytes,
              rps: run.rps,
              p50Ms: run.p50Ms,
              p99Ms: run.p99Ms,
              envoyCpuUs: (cpuUs(child.pid) - envoyBefore) / run.requests,
              processorCpuUs: (cpuUs(extProc.child.pid) - processorBefore) / run.requests,
              errors: run.errors,
            };
            log(`${variant} ${body.bytes} B: ${row.rps.toFixed(0)} req/s p50 ${row.p50Ms.toFixed(2)} ms p99 ${row.p99Ms.toFixed(2)} ms; Envoy ${row.envoyCpuUs.toFixed(0)} us, processor ${row.processorCpuUs.toFixed(0)} us per request; ${row.errors} errors`);
            rows.push(row);
          }
        }
      } finally {
        await stop(child);
      }
    }
    return { envoy: envoy.value.version, seconds: SECONDS, rows };
  } finally {
    await stop(extProc.child);
    await pod.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const result = await measureLuaVsExtProc();
  console.log(JSON.stringify(result));
  process.exit(0);
}
