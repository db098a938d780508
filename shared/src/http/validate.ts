import { z } from 'zod';
import { ValidationError, type FieldIssue } from '../errors';

/** zod issues as the contract's `details`: a dotted path (empty for the whole value) and a message. */
export function issuesToDetails(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
}

/** Parses untrusted input at an edge: a typed value, or a ValidationError naming every bad field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(issuesToDetails(result.error));
  return result.data;
}

/**
 * A query parameter where `key=` (empty) means "not given", as clients send it (`?before=&limit=50`): the
 * schema's default or absence applies. Written as a union, not a preprocess, so the OpenAPI document
 * says so too (`anyOf: [{const: ""}, …]`).
 */
export function blankAsAbsent<S extends z.ZodType>(schema: S) {
  // The blank branch hands `undefined` on to the same schema, so its default or optionality decides.
  const fromBlank = schema as unknown as z.ZodType<z.output<S>, undefined>;
  return z.union([
    z
      .literal('')
      .transform(() => undefined)
      .pipe(fromBlank),
    schema,
  ]);
}
