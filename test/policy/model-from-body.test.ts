/**
 * Routing by the JSON body's "model" (policy `modelFromBody`): validation, resolution over defaults layers,
 * and what validate, explain and render --show-policies say (golden case model-from-body as the folder).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MODEL_FROM_BODY_PROXYLESS } from '../../src/model/policy-warnings.ts';
import { policyDefaultsSchema, resolvePolicyWithProvenance, type PolicyDefaults } from '../../src/policy/index.ts';
import { docWith, problems, validDoc, SOURCE } from './helpers.ts';
import { runCli as run } from '../support/cli-run.ts';

const FOLDER = path.resolve(import.meta.dirname, '../golden/cases/model-from-body/input');
const RULE = 'true or false (route JSON requests without the model header by their body\'s top-level "model")';

describe('modelFromBody: validation', () => {
  it('accepts true and false', () => {
    expect(problems(docWith({ modelFromBody: true }))).toEqual([]);
    expect(problems(docWith({ modelFromBody: false }))).toEqual([]);
  });

  it.each([
    ['a string', 'yes', `modelFromBody: must be ${RULE}, got "yes"`],
    ['a number', 1, `modelFromBody: must be ${RULE}, got 1`],
    ['null', null, `modelFromBody: must be ${RULE}, got null`],
    ['a mapping', { enabled: true }, `modelFromBody: must be ${RULE}, got a mapping`],
  ])('names the field for %s', (_what, value, expected) => {
    expect(problems(docWith({ modelFromBody: value }))).toEqual([expected]);
  });

  it('is a defaults-layer field (an operator turns it on for a namespace)', () => {
    expect(policyDefaultsSchema.safeParse({ modelFromBody: true }).success).toBe(true);
    expect(policyDefaultsSchema.safeParse({ modelFromBody: 'on' }).success).toBe(false);
  });
});

describe('modelFromBody: resolution', () => {
  const layer = (values: Record<string, unknown>): PolicyDefaults => {
    const { model: _m, aliases: _a, backends: _b, ...defaultable } = validDoc(docWith(values));
    return { name: 'namespace/ml', values: defaultable };
  };
  const resolve = (patch: Record<string, unknown>, layers: PolicyDefaults[] = []) => resolvePolicyWithProvenance(validDoc(docWith(patch)), SOURCE, layers);

  it('is off unless set, with no provenance entry', () => {
    const { policy, provenance } = resolve({});
    expect(policy.modelFromBody).toBeUndefined();
    expect(provenance['modelFromBody']).toBeUndefined();
  });

  it('comes from the policy or from a defaults layer, and says which', () => {
    expect(resolve({ modelFromBody: true })).toMatchObject({ policy: { modelFromBody: true }, provenance: { modelFromBody: 'policy' } });
    expect(resolve({}, [layer({ modelFromBody: true })])).toMatchObject({ policy: { modelFromBody: true }, provenance: { modelFromBody: 'default:namespace/ml' } });
  });

  it('false in the policy turns a layer\'s true off, and says who did', () => {
    const { policy, provenance } = resolve({ modelFromBody: false }, [layer({ modelFromBody: true })]);
    expect(policy.modelFromBody).toBeUndefined();
    expect(provenance['modelFromBody']).toBe('policy');
  });
});

describe('modelFromBody: validate, explain, render --show-policies', () => {
  it('validate passes with a warning, for each model that has it, that proxyless gRPC is not routed by body', async () => {
    const { code, err } = await run('validate', FOLDER);
    expect(code).toBe(0);
    expect(err).toContain(`warning: model chat: ${MODEL_FROM_BODY_PROXYLESS}\n`);
    expect(err).toContain(`warning: model embed: ${MODEL_FROM_BODY_PROXYLESS}\n`);
    expect(err).not.toContain(`model closed: ${MODEL_FROM_BODY_PROXYLESS}`);
    expect(err).not.toContain('model plain:');
  });

  it('explain shows it and where it came from (a namespace default, the policy, nobody)', async () => {
    const setting = async (model: string) => {
      const { code, out } = await run('explain', '--model', model, '--config-dir', FOLDER, '-o', 'json');
      expect(code).toBe(0);
      return (JSON.parse(out) as { settings: { field: string }[] }).settings.find((s) => s.field === 'modelFromBody');
    };
    const on = 'on: a JSON request without the model header routes by its body\'s top-level "model" (Envoy only)';
    expect(await setting('chat')).toEqual({ field: 'modelFromBody', value: on, from: 'namespace ml/ml-defaults' });
    expect(await setting('embed')).toEqual({ field: 'modelFromBody', value: on, from: 'policy' });
    expect(await setting('closed')).toEqual({ field: 'modelFromBody', value: 'off', from: 'policy' });
    expect(await setting('plain')).toEqual({ field: 'modelFromBody', value: 'off', from: 'not set' });
  });

  it('render --show-policies shows the effective value with provenance', async () => {
    const { code, out } = await run('render', '--config-dir', FOLDER, '--show-policies');
    expect(code).toBe(0);
    const policies = (JSON.parse(out) as { policies: { model: string; policy: { modelFromBody?: unknown }; provenance: Record<string, string> }[] }).policies;
    const byModel = new Map(policies.map((p) => [p.model, p]));
    expect(byModel.get('chat')?.policy.modelFromBody).toBe(true);
    expect(byModel.get('chat')?.provenance['modelFromBody']).toBe('default:namespace ml/ml-defaults');
    expect(byModel.get('closed')?.policy.modelFromBody).toBeUndefined();
    expect(byModel.get('closed')?.provenance['modelFromBody']).toBe('policy');
    expect(byModel.get('plain')?.provenance['modelFromBody']).toBeUndefined();
  });
});
