/**
 * Cold-start holds: validation of `coldStart`, its resolution through defaults layers and provenance, what
 * the builders write (the ext_proc filter in the sidecar listener only while some policy holds, idle, before
 * the router; the per-table override only while the model has no ready endpoint), and what validate /
 * explain / render --show-policies say. The real Envoy behaviour is in test/sidecar/cold-start.test.ts.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HOLD_VERSION_METADATA, coldStartOverride } from '../../src/envoy/cold-start.ts';
import { modelRoutes } from '../../src/envoy/route-config.ts';
import { apiListener, sidecarListener } from '../../src/envoy/listener.ts';
import { EXT_PROC_FILTER, LOCAL_RATE_LIMIT_FILTER, ROUTER_FILTER } from '../../src/envoy/names.ts';
import { COLD_START_PROXYLESS } from '../../src/model/policy-warnings.ts';
import { DEFAULT_SETTINGS, type Endpoint } from '../../src/model/types.ts';
import { resolvePolicyWithProvenance } from '../../src/policy/index.ts';
import { policyDefaultsSchema } from '../../src/policy/schema.ts';
import { testModel, testPolicy } from '../support/models.ts';
import { docWith, problems, validDoc, SOURCE } from './helpers.ts';
import { runCli as run } from '../support/cli-run.ts';

const FOLDER = path.resolve(import.meta.dirname, '../golden/cases/cold-start/input');

describe('coldStart: validation', () => {
  it.each([['1s'], ['30s'], ['4m'], ['1m30s']])('accepts holdFor %s', (holdFor) => {
    expect(problems(docWith({ coldStart: { holdFor } }))).toEqual([]);
  });

  it('accepts null (off)', () => {
    expect(problems(docWith({ coldStart: null }))).toEqual([]);
  });

  it.each([
    ['too short', { holdFor: '500ms' }, /^coldStart\.holdFor: must be from 1s to 4m, got 500ms$/],
    ['too long (Envoy\'s stream idle timeout is 5m)', { holdFor: '5m' }, /^coldStart\.holdFor: must be from 1s to 4m, got 5m$/],
    ['a number', { holdFor: 30 }, /^coldStart\.holdFor: must be a duration .*add a unit, e.g. 30s/],
    ['not a duration', { holdFor: 'soon' }, /^coldStart\.holdFor: "soon" /],
    ['missing holdFor', {}, /^coldStart\.holdFor: required/],
    ['an unknown field', { holdFor: '30s', maxHeld: 5 }, /^coldStart\.maxHeld: unknown field/],
  ])('rejects %s, naming the field', (_, coldStart, expected) => {
    const found = problems(docWith({ coldStart }));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(expected);
  });

  it('rejects a value that is not a mapping, saying what it takes', () => {
    expect(problems(docWith({ coldStart: '30s' }))[0]).toMatch(/^coldStart: must be a mapping with fields holdFor .*\{ holdFor: 30s \}.*, got "30s"$/);
  });

  it('is a defaults-layer field', () => {
    expect(policyDefaultsSchema.safeParse({ coldStart: { holdFor: '20s' } }).success).toBe(true);
  });
});

describe('coldStart: resolution', () => {
  const layer = { name: 'namespace ml/defaults', values: { coldStart: { holdFor: 45_000 } } };
  const resolve = (patch: Record<string, unknown>, layers = [layer]) => resolvePolicyWithProvenance(validDoc(docWith(patch)), SOURCE, layers);

  it('takes the policy over a defaults layer', () => {
    const { policy, provenance } = resolve({ coldStart: { holdFor: '30s' } });
    expect(policy.coldStart).toEqual({ holdForMs: 30_000 });
    expect(provenance['coldStart.holdFor']).toBe('policy');
  });

  it('inherits a defaults layer, saying which', () => {
    const { policy, provenance } = resolve({});
    expect(policy.coldStart).toEqual({ holdForMs: 45_000 });
    expect(provenance['coldStart.holdFor']).toBe('default:namespace ml/defaults');
  });

  it('is turned off by null in the policy', () => {
    const { policy, provenance } = resolve({ coldStart: null });
    expect(policy.coldStart).toBeUndefined();
    expect(provenance['coldStart']).toBe('policy');
  });

  it('is off when nobody sets it (no built-in hold)', () => {
    const { policy, provenance } = resolve({}, []);
    expect(policy.coldStart).toBeUndefined();
    expect(Object.keys(provenance).filter((key) => key.startsWith('coldStart'))).toEqual([]);
  });
});

type Filters = { http_filters: { name: string; typed_config: Record<string, unknown>; disabled?: boolean }[] };
const hasFilters = (config: unknown): config is Filters => typeof config === 'object' && config !== null && 'http_filters' in config;
function filters(listener: ReturnType<typeof sidecarListener>): Filters['http_filters'] {
  const hcm: unknown = listener.filter_chains?.[0]?.filters?.[0]?.typed_config ?? listener.api_listener?.api_listener;
  if (!hasFilters(hcm)) throw new Error('no HTTP connection manager');
  return hcm.http_filters;
}

const healthy: Endpoint = { address: '10.0.0.1', port: 8001, health: 'healthy' };
const notReady: Endpoint = { address: '10.0.0.1', port: 8001, health: 'unhealthy' };

describe('coldStart: builders', () => {
  it('has no filter in the sidecar listener unless some policy holds (the listener is as before)', () => {
    expect(filters(sidecarListener(DEFAULT_SETTINGS)).map((f) => f.name)).not.toContain(EXT_PROC_FILTER);
    expect(sidecarListener(DEFAULT_SETTINGS, { coldStart: false })).toEqual(sidecarListener(DEFAULT_SETTINGS));
  });

  it('puts the ext_proc filter, idle, just before the router; never on the API listener', () => {
    const sidecar = filters(sidecarListener(DEFAULT_SETTINGS, { coldStart: true }));
    expect(sidecar.map((f) => f.name).slice(-3)).toEqual([LOCAL_RATE_LIMIT_FILTER, EXT_PROC_FILTER, ROUTER_FILTER]);
    expect(sidecar.find((f) => f.name === EXT_PROC_FILTER)).toEqual({
      name: EXT_PROC_FILTER,
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor',
        grpc_service: { envoy_grpc: { cluster_name: 'infermesh-xds' } },
        failure_mode_allow: true,
        processing_mode: { request_header_mode: 'SKIP', response_header_mode: 'SKIP' },
        message_timeout: { seconds: 1 },
        max_message_timeout: { seconds: 250 },
        stat_prefix: 'infermesh_cold_start',
        request_attributes: ['xds.node.id'],
        forward_rules: { allowed_headers: { patterns: [{ exact: 'x-model' }, { exact: 'x-model-version' }, { exact: 'content-type' }] } },
      },
    });
    expect(filters(apiListener('infermesh')).map((f) => f.name)).not.toContain(EXT_PROC_FILTER);
  });

  it('switches header processing on in the tables of a coldStart model with no ready endpoint, as an optional override', () => {
    const model = testModel(testPolicy({ coldStart: { holdForMs: 30_000 } }), [notReady]);
    expect(coldStartOverride(model)).toEqual({
      [EXT_PROC_FILTER]: {
        '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig',
        is_optional: true,
        config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute',
          overrides: { processing_mode: { request_header_mode: 'SEND', response_header_mode: 'SKIP' } },
        },
      },
    });
  });

  it('writes no override once a backend of the split has a ready endpoint, nor for a model without coldStart', () => {
    expect(coldStartOverride(testModel(testPolicy({ coldStart: { holdForMs: 30_000 } }), [healthy]))).toBeUndefined();
    expect(coldStartOverride(testModel(testPolicy(), [notReady]))).toBeUndefined();
  });

  it('holds while only a weight-0 backend is ready (the split still has no ready pod)', () => {
    const policy = testPolicy({ coldStart: { holdForMs: 30_000 } });
    const model = testModel(policy);
    model.backends[0] = { ...model.backends[0]!, endpoints: [notReady] };
    model.backends[1] = { ...model.backends[1]!, weight: 0, endpoints: [healthy] };
    expect(coldStartOverride(model)).toBeDefined();
    model.backends[0] = { ...model.backends[0], endpoints: [healthy] };
    expect(coldStartOverride(model)).toBeUndefined();
  });
});

describe('coldStart: version routes', () => {
  /** The ext_proc switch of each version route (header pins in the model's table, then REST path pins). */
  function versionSwitches(split: Endpoint, pinned: Endpoint, coldStart = true) {
    const model = testModel(testPolicy(coldStart ? { coldStart: { holdForMs: 30_000 } } : {}));
    model.backends[0] = { ...model.backends[0]!, version: '1', endpoints: [split] };
    model.backends[1] = { ...model.backends[1]!, version: '2', weight: 0, endpoints: [pinned] };
    const routes = modelRoutes(model, DEFAULT_SETTINGS);
    return [...routes.tableVersions, ...routes.pathRoutes]
      .filter((route) => String(route.name).endsWith('|version=2'))
      .map((route) => (route.typed_per_filter_config?.[EXT_PROC_FILTER] as { config?: { overrides?: unknown } } | undefined)?.config?.overrides);
  }

  it('a pinned version with no ready pod holds, naming its version, while the split serves (header and path pins alike)', () => {
    const switches = versionSwitches(healthy, notReady);
    expect(switches.length).toBeGreaterThanOrEqual(2);
    for (const overrides of switches) {
      expect(overrides).toEqual({
        processing_mode: { request_header_mode: 'SEND', response_header_mode: 'SKIP' },
        grpc_initial_metadata: [{ key: HOLD_VERSION_METADATA, value: '2' }],
      });
    }
  });

  it('a pinned version with a ready pod skips the hold its table switched on for the split', () => {
    for (const overrides of versionSwitches(notReady, healthy)) {
      expect(overrides).toEqual({ processing_mode: { request_header_mode: 'SKIP', response_header_mode: 'SKIP' } });
    }
  });

  it('writes nothing on version routes of a serving model, nor without coldStart', () => {
    expect(versionSwitches(healthy, healthy)).toEqual([undefined, undefined]);
    expect(versionSwitches(notReady, notReady, false).every((overrides) => overrides === undefined)).toBe(true);
  });
});

describe('coldStart: validate, explain, render --show-policies', () => {
  it('validate passes with a warning that proxyless gRPC is not held', async () => {
    const { code, err } = await run('validate', FOLDER);
    expect(code).toBe(0);
    expect(err).toContain(`warning: model chat: ${COLD_START_PROXYLESS}\n`);
    expect(err).toContain(`warning: model embed: ${COLD_START_PROXYLESS}\n`);
    expect(err).not.toContain('model free:');
  });

  it('explain shows the hold and where it came from', async () => {
    const setting = async (model: string) => {
      const { code, out } = await run('explain', '--model', model, '--config-dir', FOLDER, '-o', 'json');
      expect(code).toBe(0);
      return (JSON.parse(out) as { settings: { field: string }[] }).settings.find((s) => s.field === 'coldStart.holdFor');
    };
    expect(await setting('chat')).toEqual({ field: 'coldStart.holdFor', value: '30s while no pod is ready (Envoy only)', from: 'policy' });
    expect(await setting('embed')).toEqual({ field: 'coldStart.holdFor', value: '45s while no pod is ready (Envoy only)', from: 'namespace ml/ml-defaults' });
    expect(await setting('free')).toEqual({ field: 'coldStart.holdFor', value: 'off', from: 'policy' });
  });

  it('render --show-policies shows the effective hold with provenance', async () => {
    const { code, out } = await run('render', '--config-dir', FOLDER, '--show-policies');
    expect(code).toBe(0);
    const policies = (JSON.parse(out) as { policies: { model: string; policy: { coldStart?: unknown }; provenance: Record<string, string> }[] }).policies;
    const byModel = new Map(policies.map((p) => [p.model, p]));
    expect(byModel.get('chat')?.policy.coldStart).toEqual({ holdForMs: 30_000 });
    expect(byModel.get('embed')?.provenance['coldStart.holdFor']).toBe('default:namespace ml/ml-defaults');
    expect(byModel.get('free')?.policy.coldStart).toBeUndefined();
    expect(byModel.get('free')?.provenance['coldStart']).toBe('policy');
  });
});
