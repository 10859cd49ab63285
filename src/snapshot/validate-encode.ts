import type protobuf from 'protobufjs';
import type { FieldError } from '../protobuf/field-error.ts';
import { validateMessage } from '../protobuf/pgv.ts';
import { fromMessageObject } from '../protobuf/message-object.ts';
import { lookupTypeCached } from '../protobuf/proto-reflect.ts';

export type MessageResult = { ok: true; bytes: Uint8Array } | { ok: false; errors: FieldError[] };

/**
 * Builder output (typed messages, see message-object.ts) to message bytes, refused if it does not convert or
 * breaks one of its (validate.rules): nothing invalid is ever encoded, let alone pushed.
 */
export function validateAndEncode(root: protobuf.Root, typeName: string, json: unknown): MessageResult {
  const parsed = fromMessageObject(root, typeName, json);
  if (!parsed.message || parsed.errors.length > 0) return { ok: false, errors: parsed.errors };
  const errors = validateMessage(root, typeName, parsed.message);
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, bytes: lookupTypeCached(root, typeName).encode(parsed.message).finish() };
}
