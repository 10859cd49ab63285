import { field, list, text } from './json.ts';

export type XdsType = 'cds' | 'eds' | 'lds' | 'rds';
export const XDS_TYPES: readonly XdsType[] = ['cds', 'eds', 'lds', 'rds'];

/** The configuration of one xDS type that the sidecar runs, from `/config_dump?include_eds`. */
export interface TypeVersion {
  /** version_info of the last response applied (CDS, LDS: the dump's own; RDS, EDS: the newest resource's). */
  version: string | null;
  /** Dynamic resources of this type the sidecar holds. */
  resources: number;
  /** When the newest of them was applied (RFC 3339), or null. */
  lastUpdated: string | null;
  /** The newest update the sidecar refused (a resource's error_state), or null. */
  rejected: { version: string | null; details: string } | null;
}

export type ConfigVersions = Record<XdsType, TypeVersion>;

const DUMP_TYPES: Readonly<Record<XdsType, { type: string; list: string }>> = {
  cds: { type: 'ClustersConfigDump', list: 'dynamic_active_clusters' },
  eds: { type: 'EndpointsConfigDump', list: 'dynamic_endpoint_configs' },
  lds: { type: 'ListenersConfigDump', list: 'dynamic_listeners' },
  rds: { type: 'RoutesConfigDump', list: 'dynamic_route_configs' },
};

interface Stamped {
  version: string | undefined;
  at: string | undefined;
}

const nonEmpty = (value: string | undefined) => (value === '' ? undefined : value);

function newest<T extends { at: string | undefined }>(items: readonly T[]): T | undefined {
  const time = (item: T) => (item.at === undefined ? Number.NEGATIVE_INFINITY : Date.parse(item.at));
  return items.reduce<T | undefined>((best, item) => (best === undefined || time(item) > time(best) ? item : best), undefined);
}

function typeVersion(kind: XdsType, dump: unknown): TypeVersion {
  const resources = list(field(dump, DUMP_TYPES[kind].list));
  // A dynamic listener keeps its applied config under active_state; the other types keep it on the entry.
  const applied: Stamped[] = resources
    .map((entry) => (kind === 'lds' ? field(entry, 'active_state') : entry))
    .filter((state) => state !== undefined)
    .map((state) => ({ version: nonEmpty(text(field(state, 'version_info'))), at: text(field(state, 'last_updated')) }));
  const errors = resources
    .map((entry) => field(entry, 'error_state'))
    .filter((error) => error !== undefined)
    .map((error) => ({
      version: text(field(error, 'version_info')) ?? null,
      details: text(field(error, 'details')) ?? 'rejected (no details)',
      at: text(field(error, 'last_update_attempt')),
    }));
  const latest = newest(applied);
  const refused = newest(errors);
  return {
    version: nonEmpty(text(field(dump, 'version_info'))) ?? latest?.version ?? null,
    resources: applied.length,
    lastUpdated: latest?.at ?? null,
    rejected: refused ? { version: refused.version, details: refused.details } : null,
  };
}

/**
 * Parses `/config_dump?include_eds`: `{"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.
 * ClustersConfigDump", ...}, ...]}`. A type missing from the dump (no EDS without include_eds) reads as
 * no version and no resources. Undefined when the body has no `configs` list.
 */
export function parseConfigDump(body: unknown): ConfigVersions | undefined {
  const configs = field(body, 'configs');
  if (!Array.isArray(configs)) return undefined;
  const dumpOf = (kind: XdsType) =>
    configs.find((config) => text(field(config, '@type')) === `type.googleapis.com/envoy.admin.v3.${DUMP_TYPES[kind].type}`);
  return { cds: typeVersion('cds', dumpOf('cds')), eds: typeVersion('eds', dumpOf('eds')), lds: typeVersion('lds', dumpOf('lds')), rds: typeVersion('rds', dumpOf('rds')) };
}

/**
 * Whether the sidecar routes by scopes (its dump holds dynamic scoped route configurations): it then loads a
 * model's table and clusters on its first request for that model, so a model it has not called is absent.
 */
export function routesByScope(body: unknown): boolean {
  const configs = field(body, 'configs');
  if (!Array.isArray(configs)) return false;
  return configs.some((config) => text(field(config, '@type')) === 'type.googleapis.com/envoy.admin.v3.ScopedRoutesConfigDump' && list(field(config, 'dynamic_scoped_route_configs')).length > 0);
}
