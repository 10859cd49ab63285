/** A policy routes to Services in its own namespace, and to other namespaces only where the operator allows it. */
import type { ModelPolicy } from '../model/types.ts';
import type { PolicyError } from './errors.ts';

export function checkNamespaceBoundary(policies: readonly ModelPolicy[], allowedTargets: readonly string[]): { accepted: ModelPolicy[]; errors: PolicyError[] } {
  const accepted: ModelPolicy[] = [];
  const errors: PolicyError[] = [];
  for (const policy of policies) {
    const own = policy.source.namespace;
    const violations = policy.backends.flatMap((backend, index) => {
      const target = backend.namespace;
      if (target === undefined || target === own || allowedTargets.includes(target)) return [];
      const message = `Service ${target}/${backend.service} is in namespace "${target}", but a policy in namespace "${own}" may only route to Services in "${own}"${
        allowedTargets.length > 0 ? ` or the allowed namespaces (${allowedTargets.join(', ')})` : ''
      }; remove namespace, or start the control plane with --allow-cross-namespace ${target}`;
      const error: PolicyError = {
        namespace: own,
        configMap: policy.source.configMap,
        key: policy.source.key,
        index: policy.source.index,
        model: policy.model,
        path: `backends[${index}].namespace`,
        message,
        kind: 'invalid',
      };
      return [error];
    });
    if (violations.length === 0) accepted.push(policy);
    else errors.push(...violations);
  }
  return { accepted, errors };
}
