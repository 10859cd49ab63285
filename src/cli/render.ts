import type { ResourceKind } from '../envoy/type-urls.ts';
import { reconcileWorld, EMPTY_LAST_GOOD, type LastGood, type ModelStatus } from '../controller/reconcile.ts';
import { loadEnvoyProtos } from '../envoy/protos.ts';
import type { MeshSettings, ModelPolicy } from '../model/types.ts';
import { formatPolicyError } from '../policy/index.ts';
import { assembleSnapshot } from '../snapshot/assemble.ts';
import { ResourceCodec } from '../snapshot/codec.ts';
import type { Snapshot } from '../snapshot/snapshot.ts';
import { readFolder } from '../sources/folder.ts';
import type { SourceWorld } from '../sources/types.ts';
import { printableLine } from '../util/printable.ts';
import { SETTINGS_HELP, SETTINGS_OPTIONS, settingsFromFlags } from './settings.ts';
import { UsageError, parseCommandArgs } from './usage.ts';

const HELP = `Usage: infermesh render --config-dir DIR [options]

Prints the Envoy resources infermesh would serve for a folder of Kubernetes YAML, as JSON:
{"listeners": [...], "routes": [...], "scopedRoutes": [...], "clusters": [...], "endpoints": [...]} in the proto3 JSON mapping
(Any fields carry "@type"). Problems go to stderr. Exit 0 when every policy is valid, 1 otherwise.

Options:
  --config-dir DIR        folder of policy ConfigMaps and EndpointSlices (required)
  --show-policies         also print "policies": each model's effective policy and where every value came
                          from (policy, namespace or global defaults ConfigMap, or built-in)
  --zone ZONE             print the endpoints as a proxy whose node is in ZONE receives them: for models
                          with zoneFailover, ZONE's localities at priority 0, other zones at priority 1
${SETTINGS_HELP}`;

export interface RenderedWorld {
  snapshot: Snapshot;
  /** The effective policy of every serving model, with where each value came from. */
  policies: EffectivePolicy[];
  problems: string[];
  /** Not errors, but worth an operator's eye (e.g. an EndpointSlice without the named port). */
  warnings: string[];
  /** Every model's state (serving, stale, rejected, conflict) and why. */
  statuses: ModelStatus[];
  /** What a next render needs to keep stale models serving, as the controller would. */
  lastGood: LastGood;
}

/**
 * One-shot pipeline over a world: what `serve` would publish first, plus every problem found. With the
 * lastGood of a previous render it is what `serve` would publish after that one (stale models kept).
 */
export function renderWorld(
  world: SourceWorld,
  settings: MeshSettings,
  codec: ResourceCodec = new ResourceCodec(loadEnvoyProtos()),
  lastGood: LastGood = EMPTY_LAST_GOOD,
): RenderedWorld {
  const result = reconcileWorld(world, lastGood, codec, settings);
  const assembled = assembleSnapshot(result.encoded, settings, codec, 1);
  if (!assembled.ok) throw new Error(`inconsistent snapshot: ${assembled.problems.join('; ')}`);
  const problems = [
    ...world.readErrors.map((e) => printableLine(`${e.origin}: ${e.message}`)),
    ...result.policyErrors.map(formatPolicyError),
    ...result.buildFailures.map((failure) => printableLine(failure)),
  ];
  const warnings = result.warnings.map((w) => printableLine(`model ${w.model}: ${w.message}`));
  return {
    snapshot: assembled.snapshot,
    policies: result.served.map(effectivePolicy),
    problems,
    warnings,
    statuses: result.statuses,
    lastGood: result.lastGood,
  };
}

export interface EffectivePolicy {
  model: string;
  source: string;
  policy: Omit<ModelPolicy, 'source' | 'provenance'>;
  provenance: Readonly<Record<string, string>>;
}

function effectivePolicy(policy: ModelPolicy): EffectivePolicy {
  const { source, provenance, ...rest } = policy;
  return { model: policy.model, source: `${source.namespace}/${source.configMap} key "${source.key}" [doc ${source.index}]`, policy: rest, provenance: provenance ?? {} };
}

export function snapshotJson(snapshot: Snapshot): Record<string, unknown[]> {
  const list = (kind: ResourceKind) => [...snapshot.resources(kind).values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((r) => r.json);
  return { listeners: list('listener'), routes: list('route'), scopedRoutes: list('scopedRoute'), clusters: list('cluster'), endpoints: list('endpoint') };
}

export async function renderCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { values } = parseCommandArgs(argv, { 'config-dir': { type: 'string' }, 'show-policies': { type: 'boolean' }, zone: { type: 'string' }, ...SETTINGS_OPTIONS }, HELP);
  if (values.help) {
    out.write(HELP);
    return 0;
  }
  const dir = values['config-dir'];
  if (!dir) throw new UsageError('--config-dir is required', HELP);
  const rendered = renderWorld(await readFolder(dir), settingsFromFlags(values));
  const output = { ...snapshotJson(rendered.snapshot.forZone(values.zone)), ...(values['show-policies'] ? { policies: rendered.policies } : {}) };
  out.write(`${JSON.stringify(output, null, 2)}\n`);
  for (const warning of rendered.warnings) err.write(`warning: ${warning}\n`);
  for (const problem of rendered.problems) err.write(`${problem}\n`);
  return rendered.problems.length > 0 ? 1 : 0;
}
