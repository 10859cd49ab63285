import type { Backend, Model } from '../model/types.ts';
import { coldStartVersionOverride } from './cold-start.ts';
import type { Route, RouteMatch } from './messages.ts';
import { singleBackendAction } from './route-action.ts';

/** The backends a caller can pin (by the version header or a `/versions/V` path). */
export function versionedBackends(model: Model): (Backend & { version: string })[] {
  return model.backends.filter((backend): backend is Backend & { version: string } => backend.version !== undefined);
}

/** The route pinning `backend`'s version, by whatever `match` selects it. */
export function versionRoute(model: Model, backend: Backend & { version: string }, name: string, match: RouteMatch): Route {
  const holdSwitch = coldStartVersionOverride(model, backend);
  return { name, match, route: singleBackendAction(model, backend), ...(holdSwitch ? { typed_per_filter_config: holdSwitch } : {}) };
}
