import type protobuf from 'protobufjs';
import type { FieldError } from './field-error.ts';
import { type ValidationContext, validateType } from './pgv-plan.ts';
import { lookupTypeCached } from './proto-reflect.ts';

/**
 * protoc-gen-validate for protobufjs: enforces the `(validate.rules)` annotations of Envoy's API the way
 * Envoy does when it accepts config, so a resource that would be NACKed is caught before it is pushed.
 *
 * Walks sub-messages, lists, maps and google.protobuf.Any payloads (decoded with the type their type URL
 * names in `root`; a payload type that is not loaded is skipped unless an `any.in` rule excludes it).
 * Rules are compiled once per message type and cached, so validating thousands of resources is cheap.
 *
 * `message` is a decoded message or one built from a typed object (message-object.ts) or a plain object of that shape.
 * Errors carry proto field paths (`virtual_hosts[0].routes[1].match`) and say what would be valid.
 * An unknown `typeName` is a programming error and throws.
 */
export function validateMessage(root: protobuf.Root, typeName: string, message: object): FieldError[] {
  const context: ValidationContext = { root, errors: [] };
  validateType(context, lookupTypeCached(root, typeName), message, '');
  return context.errors;
}
