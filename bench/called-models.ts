/**
 * Which models each simulated sidecar calls: three, deterministically. Every tenth client calls m0 (model-0),
 * the model the change rows edit; the others' calls go round-robin over model-1..model-(M-1), so at 1,000
 * clients x 1,000 models every model is called by someone (at 10,000 models, 2,900 of them are).
 */
export const CALLS_PER_CLIENT = 3;
export const CHANGED_MODEL = 'model-0';

export function usesChangedModel(client: number): boolean {
  return client % 10 === 0;
}

export function modelsCalledBy(client: number, models: number): string[] {
  const others = Math.max(1, models - 1);
  const called = Array.from({ length: CALLS_PER_CLIENT }, (_, k) => `model-${1 + ((client * CALLS_PER_CLIENT + k) % others)}`);
  if (usesChangedModel(client)) called[0] = CHANGED_MODEL;
  return [...new Set(called)];
}
