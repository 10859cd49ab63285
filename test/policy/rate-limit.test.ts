/**
 * Per-model rate limit: validation of `rateLimit`, its resolution and provenance, what the builders write
 * (filter inactive in the sidecar listener before the router, never on the API listener; the per-table
 * override), and what validate / explain / render --show-policies say. The real Envoy behaviour is in
 * test/sidecar/rate-limit.test.ts.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiListener, sidecarListener } from '../../src/envoy/listener.ts';
import { LOCAL_RATE_LIMIT_FILTER, ROUTER_FILTER } from '../../src/envoy/names.ts';
import { RATE_LIMITED_HEADER, rateLimitOverride } from '../../src/envoy/rate-limit.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { RATE_LIMIT_PROXYLESS } from '../../src/model/policy-warnings.ts';
import { resolvePolicyWithProvenance } from '../../src/policy/index.ts';
import { testModel, testPolicy } from '../support/models.ts';
import { docWith, problems, validDoc, SOURCE } from './helpers.ts';
import { runCli as run } from '../support/cli-run.ts';

const FOLDER = path.resolve(import.meta.dirname, '../golden/cases/rate-limit/input');

describe('rateLimit: validation', () => {
  it.each([[{ requestsPerSecond: 1 }], [{ requestsPerSecond: 100, burst: 200 }], [{ requestsPerSecond: 5, burst: 5 }]])('accepts %j', (rateLimit) => {
    expect(problems(docWith({ rateLimit }))).toEqual([]);
  });

  it.each([
    ['zero', { requestsPerSecond: 0 }, /^rateLimit\.requestsPerSecond: must be an integer from 1 to 4294967295 .*, got 0$/],
    ['a fraction', { requestsPerSecond: 1.5 }, /^rateLimit\.requestsPerSecond: must be an integer from 1 to 4294967295 .*, got 1\.5$/],
    ['a string', { requestsPerSecond: 'fast' }, /^rateLimit\.requestsPerSecond: must be an integer .*, got "fast"/],
    ['no requestsPerSecond', { burst: 10 }, /^rateLimit\.requestsPerSecond: required/],
    ['a burst below the rate', { requestsPerSecond: 10, burst: 5 }, /^rateLimit\.burst: must be >= requestsPerSecond \(10\), got 5$/],
    ['a burst of 0', { requestsPerSecond: 10, burst: 0 }, /^rateLimit\.burst: must be an integer from 1 /],
    ['an unknown field', { requestsPerSecond: 10, perMinute: 5 }, /^rateLimit\.perMinute: /],
  ])('rejects %s, naming the field', (_, rateLimit, expected) => {
    const found = problems(docWith({ rateLimit }));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(expected);
  });

  it('rejects a value that is not a mapping', () => {
    expect(problems(docWith({ rateLimit: 100 }))[0]).toMatch(/^rateLimit: must be a mapping .*requestsPerSecond: 100, burst: 200.*, got 100$/);
  });

  it('is not a defaults-layer field (a limit is sized for one model)', async () => {
    const { policyDefaultsSchema } = await import('../../src/policy/schema.ts');
    expect(policyDefaultsSchema.safeParse({ rateLimit: { requestsPerSecond: 1 } }).success).toBe(false);
  });
});

describe('rateLimit: resolution', () => {
  const resolve = (patch: Record<string, unknown>) => resolvePolicyWithProvenance(validDoc(docWith(patch)), SOURCE);

  it('keeps the burst given, from the policy', () => {
    const { policy, provenance } = resolve({ rateLimit: { requestsPerSecond: 100, burst: 200 } });
    expect(policy.rateLimit).toEqual({ requestsPerSecond: 100, burst: 200 });
    expect(provenance).toMatchObject({ 'rateLimit.requestsPerSecond': 'policy', 'rateLimit.burst': 'policy' });
  });

  it('defaults the burst to requestsPerSecond (built-in)', () => {
    const { policy, provenance } = resolve({ rateLimit: { requestsPerSecond: 7 } });
    expect(policy.rateLimit).toEqual({ requestsPerSecond: 7, burst: 7 });
    expect(provenance['rateLimit.burst']).toBe('builtin');
  });

  it('is absent when not set', () => {
    const { policy, provenance } = resolve({});
    expect(policy.rateLimit).toBeUndefined();
    expect(Object.keys(provenance).filter((key) => key.startsWith('rateLimit'))).toEqual([]);
  });
});

describe('rateLimit: builders', () => {
  it('puts the filter, inactive, just before the router in the sidecar listener only', () => {
    type Filters = { http_filters: { name: string; typed_config: Record<string, unknown> }[] };
    const hasFilters = (config: unknown): config is Filters => typeof config === 'object' && config !== null && 'http_filters' in config;
    const names = (listener: ReturnType<typeof sidecarListener>) => {
      const hcm: unknown = listener.filter_chains?.[0]?.filters?.[0]?.typed_config ?? listener.api_listener?.api_listener;
      if (!hasFilters(hcm)) throw new Error('no HTTP connection manager');
      return hcm.http_filters;
    };
    const sidecar = names(sidecarListener(DEFAULT_SETTINGS));
    expect(sidecar.map((f) => f.name).slice(-2)).toEqual([LOCAL_RATE_LIMIT_FILTER, ROUTER_FILTER]);
    // No token bucket and no filter_enabled (0%): nothing is limited unless a table switches it on.
    expect(sidecar.find((f) => f.name === LOCAL_RATE_LIMIT_FILTER)?.typed_config).toEqual({
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
      stat_prefix: 'infermesh_rate_limit',
    });
    expect(names(apiListener('infermesh')).map((f) => f.name)).not.toContain(LOCAL_RATE_LIMIT_FILTER);
  });

  it('writes an optional per-table override: token bucket, 100% enabled and enforced, the model header, RESOURCE_EXHAUSTED', () => {
    const model = testModel(testPolicy({ model: 'chat', rateLimit: { requestsPerSecond: 100, burst: 200 } }));
    expect(rateLimitOverride(model)).toEqual({
      [LOCAL_RATE_LIMIT_FILTER]: {
        '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig',
        is_optional: true,
        config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
          stat_prefix: 'infermesh_rate_limit',
          token_bucket: { max_tokens: 200, tokens_per_fill: { value: 100 }, fill_interval: { seconds: 1 } },
          filter_enabled: { runtime_key: 'infermesh.rate_limit.enabled', default_value: { numerator: 100 } },
          filter_enforced: { runtime_key: 'infermesh.rate_limit.enforced', default_value: { numerator: 100 } },
          response_headers_to_add: [{ header: { key: RATE_LIMITED_HEADER, value: 'chat' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
          rate_limited_as_resource_exhausted: true,
        },
      },
    });
    expect(rateLimitOverride(testModel(testPolicy()))).toBeUndefined();
  });
});

describe('rateLimit: validate, explain, render --show-policies', () => {
  it('validate passes with a warning that proxyless gRPC is not limited', async () => {
    const { code, err } = await run('validate', FOLDER);
    expect(code).toBe(0);
    expect(err).toContain(`warning: model chat: ${RATE_LIMIT_PROXYLESS}\n`);
    expect(err).toContain(`warning: model embed: ${RATE_LIMIT_PROXYLESS}\n`);
    expect(err).not.toContain('model free:');
  });

  it('explain shows the limit and where it came from', async () => {
    const { code, out } = await run('explain', '--model', 'embed', '--config-dir', FOLDER, '-o', 'json');
    expect(code).toBe(0);
    const settings = (JSON.parse(out) as { settings: { field: string }[] }).settings;
    expect(settings.find((s) => s.field === 'rateLimit')).toEqual({ field: 'rateLimit', value: '5/s per sidecar, burst 5 (Envoy only)', from: 'policy' });
    const free = JSON.parse((await run('explain', '--model', 'free', '--config-dir', FOLDER, '-o', 'json')).out) as { settings: { field: string }[] };
    expect(free.settings.find((s) => s.field === 'rateLimit')).toEqual({ field: 'rateLimit', value: 'off', from: 'not set' });
  });

  it('render --show-policies shows the effective limit with provenance', async () => {
    const { code, out } = await run('render', '--config-dir', FOLDER, '--show-policies');
    expect(code).toBe(0);
    const policies = (JSON.parse(out) as { policies: { model: string; policy: { rateLimit?: unknown }; provenance: Record<string, string> }[] }).policies;
    const embed = policies.find((p) => p.model === 'embed');
    expect(embed?.policy.rateLimit).toEqual({ requestsPerSecond: 5, burst: 5 });
    expect(embed?.provenance).toMatchObject({ 'rateLimit.requestsPerSecond': 'policy', 'rateLimit.burst': 'builtin' });
  });
});
