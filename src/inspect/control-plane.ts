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

export interface ControlPlaneStatus {
  ready: boolean;
  snapshotVersion: string | null;
  models: ControlPlaneModel[];
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
  };
}
