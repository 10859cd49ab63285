import type { Logger } from 'pino';
import type { ModelChanges } from '../controller/changes.ts';
import type { ModelStatus } from '../controller/reconcile.ts';
import { printableLine } from '../util/printable.ts';

/** Per-model lines per reconcile at info; the rest (a first read of 10,000 models) at debug, counted. */
export const MODEL_LINES_PER_RECONCILE = 100;

export interface ModelChangeContext {
  /** The snapshot serving after this reconcile: its digest and this process's sequence number. */
  snapshot?: string;
  sequence?: number;
}

type ChangeKind = keyof ModelChanges;

function where(status: ModelStatus | undefined): Record<string, unknown> {
  const source = status?.source;
  return source ? { configMap: `${source.namespace}/${source.configMap}`, key: source.key, ...(source.index > 0 ? { doc: source.index } : {}) } : {};
}

/**
 * One line per model change (`event: "model-change"`): the model, where its policy lives (ConfigMap
 * namespace/name and key), its fingerprint before and after (the digest of what it serves: equal on every
 * replica serving the same), and the snapshot that carries the change, so a line can be followed to `/status`,
 * CSDS and a proxy's NACK. Returns how many lines went to debug instead of info.
 */
export function logModelChanges(logger: Logger, before: readonly ModelStatus[], after: readonly ModelStatus[], changes: ModelChanges, context: ModelChangeContext, limit = MODEL_LINES_PER_RECONCILE): number {
  const previous = new Map(before.filter((s) => s.state === 'serving' || s.state === 'stale').map((s) => [s.model, s]));
  const current = new Map<string, ModelStatus>();
  const refused = new Map<string, ModelStatus>();
  for (const status of after) {
    if (status.state === 'serving' || status.state === 'stale' || !current.has(status.model)) current.set(status.model, status);
    if (status.state !== 'serving' && !refused.has(status.model)) refused.set(status.model, status);
  }
  const snapshot = { ...(context.snapshot ? { snapshot: context.snapshot } : {}), ...(context.sequence !== undefined ? { sequence: context.sequence } : {}) };
  let logged = 0;
  let overflow = 0;
  const line = (change: ChangeKind, model: string) => {
    if (logged >= limit && !logger.isLevelEnabled('debug')) {
      overflow += 1;
      return;
    }
    const now = change === 'rejected' ? refused.get(model) : current.get(model);
    const was = previous.get(model);
    const fields = {
      event: 'model-change',
      change,
      model,
      ...where(change === 'removed' ? was : (now ?? was)),
      ...(change !== 'removed' && change !== 'rejected' && now ? { fingerprint: now.fingerprint } : {}),
      ...(was ? { previousFingerprint: was.fingerprint } : {}),
      ...(change === 'rejected' && now ? { state: now.state, problems: now.problems } : {}),
      ...snapshot,
    };
    const message = printableLine(change === 'rejected' && now ? `model ${model} ${now.state}: ${now.problems.join('; ')}` : `model ${model} ${change}`);
    const level = change === 'rejected' ? 'warn' : 'info';
    if (logged < limit) {
      logged += 1;
      logger[level](fields, message);
    } else {
      overflow += 1;
      if (logger.isLevelEnabled('debug')) logger.debug(fields, message);
    }
  };
  for (const change of ['added', 'changed', 'removed', 'rejected'] as const) for (const model of changes[change]) line(change, model);
  return overflow;
}
