import type protobuf from 'protobufjs';
import { validateMessage } from '../src/protobuf/pgv.ts';
import { messageName, RESOURCE_KINDS, type ResourceKind } from '../src/envoy/type-urls.ts';
import type { Snapshot } from '../src/snapshot/snapshot.ts';

export interface ValidationFigures {
  kind: ResourceKind;
  resources: number;
  /** Best of three passes over every resource of the kind, plans already compiled. */
  usPerResource: number;
}

/**
 * The PGV validator alone over a built snapshot's resources, decoded back from their bytes: what
 * validation costs per resource once every message type is planned.
 */
export function measureValidation(root: protobuf.Root, snapshot: Snapshot): ValidationFigures[] {
  const anyType = root.lookupType('google.protobuf.Any');
  return RESOURCE_KINDS.map((kind) => {
    const messages = [...snapshot.resources(kind).values()].map((resource) => {
      const any = anyType.toObject(anyType.decode(resource.any));
      const typeName = messageName(String(any['type_url']));
      return { typeName, message: root.lookupType(typeName).decode(any['value'] as Uint8Array) };
    });
    let best = Infinity;
    for (let round = 0; round < 3; round++) {
      const started = performance.now();
      for (const { typeName, message } of messages) validateMessage(root, typeName, message);
      best = Math.min(best, performance.now() - started);
    }
    return { kind, resources: messages.length, usPerResource: messages.length === 0 ? NaN : (best * 1000) / messages.length };
  });
}
