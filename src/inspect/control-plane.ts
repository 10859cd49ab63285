import { field, isRecord, list, text } from './json.ts';

/** One model as infermesh's `/status` reports it. */
export interface ControlPlaneModel {
  model: string;
  /** serving, stale, rejected, conflict (a model can appear twice: served by one ConfigMap, refused from another). */
  state: string;
  problems: string[];
  /** Short hash of what serves; empty when nothing of this entry serves. */
  fingerprint: string;
  /** "namespace/configmap[key]" of the policy, when known. */
  source: string | null;
}

/** One model's ACK-gated rollout from `/status` `rollout` (what the proxies connected to that replica ACKed). */
export interface ControlPlaneRollout {
  model: string;
  /** pending (some proxy has not ACKed the change yet), live (all have), degraded (a proxy refused it). */
  state: string;
  sequence: number | null;
  /** Node ids of the proxies still to ACK. */
  pending: string[];
  rejected: { node: string; type: string; version: string; error: string }[];
}

export interface ControlPlaneStatus {
  ready: boolean;
  snapshotVersion: string | null;
  models: ControlPlaneModel[];
  rollout: ControlPlaneRollout[];
}

const SERVED_STATES = new Set(['serving', 'stale']);

/** Whether this entry's model is in the snapshot the control plane pushes (so every sidecar should have it). */
export function isServed(model: ControlPlaneModel): boolean {
  return SERVED_STATES.has(model.state) || model.fingerprint !== '';
}

function describeSource(source: unknown): string | null {
  const namespace = text(field(source, 'namespace'));
  const configMap = text(field(source, 'configMap'));
  const key = text(field(source, 'key'));
  return namespace && configMap ? `${namespace}/${configMap}${key ? `[${key}]` : ''}` : null;
}

function parseRollout(entry: unknown): ControlPlaneRollout[] {
  const model = text(field(entry, 'model'));
  if (model === undefined) return [];
  const proxies = field(entry, 'proxies');
  const sequence = field(entry, 'sequence');
  return [
    {
      model,
      state: text(field(entry, 'state')) ?? 'unknown',
      sequence: typeof sequence === 'number' ? sequence : null,
      pending: list(field(proxies, 'pending')).filter((node) => typeof node === 'string'),
      rejected: list(field(proxies, 'rejected')).map((rejection) => ({
        node: text(field(rejection, 'node')) ?? '',
        type: text(field(rejection, 'type')) ?? '',
        version: text(field(rejection, 'rejectedVersion')) ?? '',
        error: text(field(rejection, 'error')) ?? '',
      })),
    },
  ];
}

/** Parses infermesh's `/status`; undefined when the body is not that (no `models` list). */
export function parseControlPlaneStatus(body: unknown): ControlPlaneStatus | undefined {
  if (!isRecord(body) || !Array.isArray(body['models'])) return undefined;
  const version = body['snapshotVersion'];
  return {
    ready: body['ready'] === true,
    snapshotVersion: typeof version === 'string' || typeof version === 'number' ? String(version) : null,
    models: list(body['models']).flatMap((entry) => {
      const model = text(field(entry, 'model'));
      if (model === undefined) return [];
      return [
        {
          model,
          state: text(field(entry, 'state')) ?? 'unknown',
          problems: list(field(entry, 'problems')).filter((problem) => typeof problem === 'string'),
          fingerprint: text(field(entry, 'fingerprint')) ?? '',
          source: describeSource(field(entry, 'source')),
        },
      ];
    }),
    rollout: list(body['rollout']).flatMap(parseRollout),
  };
}
