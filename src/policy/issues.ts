/** zod issues -> field problems with a path and a message saying what would be valid. */
import { z } from 'zod';
import { nearest } from '../util/suggest.ts';

export interface FieldProblem {
  path: PropertyKey[];
  message: string;
  /** The problem is the key itself (an unknown field), not its value. */
  atKey: boolean;
}

/** The field names of the mapping at `path` (list indexes included), looking through optional/nullable/transform. */
export function fieldsAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let current: unknown = schema;
  let rest = [...path];
  for (;;) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodNullable) current = current.unwrap();
    else if (current instanceof z.ZodPipe) current = current.in;
    else if (rest.length === 0) break;
    else if (current instanceof z.ZodArray) [current, rest] = [current.element, rest.slice(1)];
    else if (current instanceof z.ZodObject) [current, rest] = [current.shape[String(rest[0])], rest.slice(1)];
    else return [];
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

function unknownField(key: string, valid: string[]): string {
  const guess = nearest(key, valid);
  const suggestion = guess === undefined ? '' : ` did you mean ${JSON.stringify(guess)}?`;
  return `unknown field;${suggestion} valid fields: ${valid.join(', ')}`;
}

/** One problem per issue, and one per unknown key. Messages come from the schema's error functions. */
export function toFieldProblems(schema: z.ZodType, issues: readonly z.core.$ZodIssue[]): FieldProblem[] {
  return issues.flatMap((issue): FieldProblem[] => {
    if (issue.code === 'unrecognized_keys') {
      const valid = fieldsAt(schema, issue.path);
      return issue.keys.map((key) => ({
        path: [...issue.path, key],
        message: unknownField(key, valid),
        atKey: true,
      }));
    }
    return [{ path: [...issue.path], message: issue.message, atKey: false }];
  });
}
