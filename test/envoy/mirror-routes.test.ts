import { describe, expect, it } from 'vitest';
import { modelRoutes } from '../../src/envoy/route-config.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { testModel, testPolicy } from '../support/models.ts';

const healthy = [{ address: '10.0.0.1', port: 8001, health: 'healthy' as const }];

function mirrored(percent: number) {
  const routes = modelRoutes(testModel(testPolicy({ aliases: ['rn'], mirror: { backend: 'canary', percent } }), healthy), DEFAULT_SETTINGS);
  return [...routes.headerRoutes, ...routes.pathRoutes, ...routes.tableVersions, routes.tableSplit];
}

describe('request_mirror_policies', () => {
  it('go on every split route (header, path, own table; each name) and on no version pin or error route', () => {
    const routes = mirrored(10);
    const withMirror = routes.filter((route) => route.route?.request_mirror_policies !== undefined).map((route) => route.name);
    expect(withMirror.sort()).toEqual(['/v2/models/resnet50', '/v2/models/rn', 'resnet50', 'resnet50', 'rn'].sort());
    for (const route of routes.filter((r) => r.name?.includes('|version='))) expect(route.route?.request_mirror_policies).toBeUndefined();
  });

  it('copy to the backend\'s cluster, the percent as a fraction of a million', () => {
    const split = mirrored(2.5).find((route) => route.name === 'resnet50');
    expect(split?.route?.request_mirror_policies).toEqual([
      { cluster: 'infermesh|resnet50|canary', runtime_fraction: { default_value: { numerator: 25_000, denominator: 'MILLION' } } },
    ]);
    expect(mirrored(0.0001).find((route) => route.name === 'resnet50')?.route?.request_mirror_policies?.[0]?.runtime_fraction?.default_value?.numerator).toBe(1);
    expect(mirrored(100).find((route) => route.name === 'resnet50')?.route?.request_mirror_policies?.[0]?.runtime_fraction?.default_value?.numerator).toBe(1_000_000);
  });

  it('are absent without a mirror', () => {
    const routes = modelRoutes(testModel(testPolicy(), healthy), DEFAULT_SETTINGS);
    expect(JSON.stringify(routes)).not.toContain('request_mirror_policies');
  });
});
