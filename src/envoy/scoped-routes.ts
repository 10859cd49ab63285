import type { MeshSettings } from '../model/types.ts';
import { modelTableName } from './names.ts';
import type { ScopedRouteConfiguration } from './messages.ts';

/**
 * The scope a sidecar picks for a request whose model header is `name` (a model or an alias): that name's
 * own table, fetched by the sidecar only when a request first needs it (on_demand).
 */
export function modelScope(settings: MeshSettings, name: string): ScopedRouteConfiguration {
  const tableName = modelTableName(settings.grpcTarget, name);
  return { name: tableName, on_demand: true, route_configuration_name: tableName, key: { fragments: [{ string_key: name }] } };
}
