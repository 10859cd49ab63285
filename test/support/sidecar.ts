/**
 * An Envoy sidecar in front of a Mesh of fake model pods: its own control plane replica on the mesh's
 * folder (so its listener port is its own: two Envoys on one port would share it through SO_REUSEPORT),
 * and a real Envoy fed over ADS. `url` is the sidecar listener apps send inference requests to.
 */
import { afterEach } from 'vitest';
import type { RunningServer } from '../../src/cli/serve.ts';
import { DEFAULT_SETTINGS, type MeshSettings } from '../../src/model/types.ts';
import { EnvoyProcess, freePort, type EnvoyOptions } from './envoy-process.ts';
import type { Mesh } from './mesh.ts';
import type { EnvoyBinary } from './tools.ts';

export class Sidecar {
  readonly envoy: EnvoyProcess;
  readonly controlPlane: RunningServer;
  readonly port: number;
  readonly settings: MeshSettings;

  private constructor(envoy: EnvoyProcess, controlPlane: RunningServer, settings: MeshSettings) {
    this.envoy = envoy;
    this.controlPlane = controlPlane;
    this.settings = settings;
    this.port = settings.sidecarListenerPort;
  }

  static async start(
    mesh: Mesh,
    binary: EnvoyBinary,
    nodeId = `sidecar-${binary.version}`,
    envoyOptions: Pick<EnvoyOptions, 'extraArgs' | 'xdsTls' | 'zone' | 'moreXdsPorts'> = {},
    /** Starts the sidecar's own replica (default: mesh.startControlPlane), e.g. one serving TLS. */
    startControlPlane: (xdsAddress: string, settings: MeshSettings) => Promise<RunningServer> = (address, settings) => mesh.startControlPlane(address, settings),
  ): Promise<Sidecar> {
    // A free port can be taken by another test before Envoy binds the pushed listener (Envoy then rejects the
    // listener with "Address already in use", seen in CI): start again on another port, at most three times.
    for (let attempt = 1; ; attempt++) {
      const settings: MeshSettings = { ...mesh.settings, sidecarListenerAddress: '127.0.0.1', sidecarListenerPort: await freePort() };
      const controlPlane = await startControlPlane('127.0.0.1:0', settings);
      let envoy: EnvoyProcess | undefined;
      try {
        envoy = await EnvoyProcess.start({ ...envoyOptions, binary, xdsPort: controlPlane.xdsPort, nodeId });
        const sidecar = new Sidecar(envoy, controlPlane, settings);
        await sidecar.waitListening();
        return sidecar;
      } catch (error) {
        const lostPort = envoy?.logTail(400).includes(`cannot bind '127.0.0.1:${settings.sidecarListenerPort}': Address already in use`) ?? false;
        await envoy?.stop(true);
        await controlPlane.close();
        if (!lostPort || attempt === 3) throw error;
      }
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get authority(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** /ready goes LIVE before the pushed listener is bound; wait until it accepts connections. */
  async waitListening(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await fetch(`${this.url}/`, { signal: AbortSignal.timeout(1_000) });
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`sidecar listener ${this.url} not accepting after ${timeoutMs} ms: ${(error as Error).message}\n${this.envoy.logTail()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  async stop(keepLog = false): Promise<void> {
    await this.envoy.stop(keepLog);
    await this.controlPlane.close();
  }
}

/** True once any test of the calling file failed: Envoy logs are then kept in test-results/envoy/. */
export function trackFailures(): { readonly failed: boolean } {
  const state = { failed: false };
  afterEach((context) => {
    if (context.task.result?.state === 'fail') state.failed = true;
  });
  return state;
}

export { DEFAULT_SETTINGS };
