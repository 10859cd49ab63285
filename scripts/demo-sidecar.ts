/**
 * The Envoy half of `npm run demo`: a control plane on a policy folder that binds the sidecar listener to
 * 127.0.0.1:<free port>, and a real Envoy started with the project's bootstrap (renderBootstrap, the file
 * `infermesh bootstrap` prints), fed by that control plane over ADS. Every Envoy started here is killed by
 * PID when the demo exits, whatever way it exits.
 */
import { startServer, type RunningServer } from '../src/cli/serve.ts';
import { createLogger } from '../src/logging/logger.ts';
import { DEFAULT_SETTINGS } from '../src/model/types.ts';
import { EnvoyProcess, freePort } from '../test/support/envoy-process.ts';
import type { EnvoyBinary } from './envoy-lookup.ts';

const running = new Set<EnvoyProcess>();
let hooked = false;

/** SIGKILLs every Envoy still running (synchronously: also usable from an 'exit' handler). */
export function killEnvoys(keepLogs: boolean): void {
  for (const envoy of running) void envoy.stop(keepLogs);
  running.clear();
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => killEnvoys(true));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killEnvoys(false);
      process.exit(130);
    });
  }
}

export interface DemoSidecar {
  readonly envoy: EnvoyProcess;
  readonly controlPlane: RunningServer;
  /** http://127.0.0.1:PORT, the sidecar listener apps send requests to. */
  readonly url: string;
  readonly authority: string;
  stop(keepLog: boolean): Promise<void>;
}

/** /ready goes LIVE before the pushed listener is bound; waits until it accepts connections. */
async function waitListening(url: string, envoy: EnvoyProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fetch(`${url}/`, { signal: AbortSignal.timeout(1_000) });
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`sidecar listener ${url} not accepting after ${timeoutMs} ms: ${(error as Error).message}\n${envoy.logTail()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** A control plane serving `dir` and an Envoy sidecar fed by it, listening on loopback. */
export async function startSidecar(dir: string, binary: EnvoyBinary, nodeId: string): Promise<DemoSidecar> {
  hookExit();
  const port = await freePort();
  const controlPlane = await startServer({
    source: { kind: 'folder', dir },
    xdsAddress: '127.0.0.1:0',
    adminAddress: '127.0.0.1:0',
    settings: { ...DEFAULT_SETTINGS, sidecarListenerAddress: '127.0.0.1', sidecarListenerPort: port },
    logger: createLogger('warn'),
  });
  let envoy: EnvoyProcess | undefined;
  try {
    envoy = await EnvoyProcess.start({ binary, xdsPort: controlPlane.xdsPort, nodeId, logLevel: 'warn' });
    running.add(envoy);
    const url = `http://127.0.0.1:${port}`;
    await waitListening(url, envoy);
    const started = envoy;
    return {
      envoy: started,
      controlPlane,
      url,
      authority: `127.0.0.1:${port}`,
      async stop(keepLog) {
        running.delete(started);
        await started.stop(keepLog);
        await controlPlane.close();
      },
    };
  } catch (error) {
    if (envoy) {
      running.delete(envoy);
      await envoy.stop(true);
    }
    await controlPlane.close();
    throw error;
  }
}

export interface RestAnswer {
  status: number;
  contentType: string;
  body: string;
  /** x-served-by and x-model-version of a fake pod's answer. */
  pod: string | undefined;
  version: string | undefined;
}

/** One REST call (HTTP/1.1) to the sidecar. */
export async function restCall(url: string, path: string, headers: Record<string, string>): Promise<RestAnswer> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ inputs: [], instances: [[1]] }),
    signal: AbortSignal.timeout(5_000),
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '-',
    body: (await response.text()).trim(),
    pod: response.headers.get('x-served-by') ?? undefined,
    version: response.headers.get('x-model-version') ?? undefined,
  };
}
