import protobuf from 'protobufjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateMessage } from '../../src/protobuf/pgv.ts';
import { fromProto3Json } from '../support/proto3-json/index.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { allTypes } from './pgv-harness/rule-keys.ts';
import { REALISTIC_RESOURCES } from './realistic-resources.ts';

/**
 * The validator plans each message type once: compiling a plan is the only thing that reads a type's
 * field list (`Type#fieldsArray`), so after a first pass over each resource, validating the same kinds of
 * resources again must not read it at all, however many messages go through.
 */

let fieldListReads = 0;
let root: protobuf.Root;
let messages: [string, protobuf.Message][];

/** Counts reads of each type's field list (the getter on protobufjs' prototype is not configurable). */
function countFieldListReads(types: protobuf.Type[]): void {
  const get = Object.getOwnPropertyDescriptor(protobuf.Type.prototype, 'fieldsArray')?.get;
  if (get === undefined) throw new Error('protobufjs Type#fieldsArray is no longer a getter: update this test');
  for (const type of types) {
    Object.defineProperty(type, 'fieldsArray', {
      get() {
        fieldListReads++;
        return get.call(type);
      },
    });
  }
}

beforeAll(() => {
  root = loadEnvoyProtos();
  countFieldListReads(allTypes(root));
  messages = REALISTIC_RESOURCES.map(([, typeName, json]) => {
    const { message, errors } = fromProto3Json(root, typeName, json());
    if (message === undefined || errors.length > 0) throw new Error(`${typeName}: ${JSON.stringify(errors)}`);
    return [typeName, message];
  });
});

describe('PGV plans', () => {
  it('are compiled on the first message of a type and never again', () => {
    const before = fieldListReads;
    for (const [typeName, message] of messages) expect(validateMessage(root, typeName, message)).toEqual([]);
    expect(fieldListReads, 'the first pass compiles the plans').toBeGreaterThan(before);

    const warm = fieldListReads;
    for (let round = 0; round < 50; round++) {
      for (const [typeName, message] of messages) validateMessage(root, typeName, message);
    }
    expect(fieldListReads - warm).toBe(0);
  });
});
