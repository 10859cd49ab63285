import { formatPath, policyDocumentSchema, toFieldProblems, type PolicyDocument } from '../../src/policy/index.ts';
import type { ConfigMapObject } from '../../src/sources/types.ts';
import type { PolicySource } from '../../src/model/types.ts';

/** The smallest valid policy document. */
export function baseDoc(): Record<string, unknown> {
  return { model: 'resnet50', backends: [{ name: 'stable', service: 'resnet50-triton', port: 'grpc' }] };
}

/** Base document with `patch` applied at the top level. */
export function docWith(patch: Record<string, unknown>): Record<string, unknown> {
  return { ...baseDoc(), ...patch };
}

/** Base document whose single backend has `patch` applied. */
export function backendWith(patch: Record<string, unknown>): Record<string, unknown> {
  return docWith({ backends: [{ name: 'stable', service: 'resnet50-triton', port: 'grpc', ...patch }] });
}

/** Every problem as "path: message". */
export function problems(input: unknown): string[] {
  const result = policyDocumentSchema.safeParse(input);
  if (result.success) return [];
  return toFieldProblems(policyDocumentSchema, result.error.issues).map((p) => `${formatPath(p.path)}: ${p.message}`);
}

export function validDoc(input: unknown): PolicyDocument {
  const result = policyDocumentSchema.safeParse(input);
  if (!result.success) throw new Error(`expected valid, got: ${problems(input).join('; ')}`);
  return result.data;
}

export function configMap(data: Record<string, string>, overrides: Partial<ConfigMapObject> = {}): ConfigMapObject {
  return {
    namespace: 'default',
    name: 'resnet50-policy',
    labels: { 'infermesh.io/policy': 'true' },
    data,
    creationTimestamp: '2025-01-01T00:00:00Z',
    resourceVersion: '42',
    origin: 'test',
    ...overrides,
  };
}

/** Where a test's policy document comes from (namespace ml, ConfigMap cm). */
export const SOURCE: PolicySource = { namespace: 'ml', configMap: 'cm', key: 'policy.yaml', index: 0, createdAt: '2025-01-01T00:00:00Z' };
