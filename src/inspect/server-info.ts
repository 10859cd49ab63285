import { durationSeconds, field, text } from './json.ts';

/** What `/server_info` (envoy.admin.v3.ServerInfo) says about the sidecar. */
export interface ServerInfo {
  /** The release, e.g. "1.34.1", or the whole build string when it has no release in it. */
  envoyVersion: string;
  /** LIVE, DRAINING, PRE_INITIALIZING or INITIALIZING. */
  state: string;
  uptimeSeconds: number | null;
  nodeId: string;
  nodeCluster: string;
}

/**
 * Parses `/server_info`; undefined when the answer lacks what every Envoy prints (a build `version` such as
 * "816188b8.../1.34.1/Clean/RELEASE/BoringSSL" and a `state`), i.e. it did not come from an Envoy.
 */
export function parseServerInfo(body: unknown): ServerInfo | undefined {
  const build = text(field(body, 'version'));
  const state = text(field(body, 'state'));
  if (!build || !state) return undefined;
  const node = field(body, 'node');
  return {
    envoyVersion: /(?:^|\/)(\d+\.\d+\.\d+[^/]*)(?:\/|$)/.exec(build)?.[1] ?? build,
    state,
    uptimeSeconds: durationSeconds(field(body, 'uptime_current_epoch')) ?? null,
    nodeId: text(field(node, 'id')) ?? '',
    nodeCluster: text(field(node, 'cluster')) ?? '',
  };
}
