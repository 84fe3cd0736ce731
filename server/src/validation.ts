import type { FieldIssue } from '@parley/protocol';
import type { z } from 'zod';
import { AppError } from './errors';

/**
 * Validates untrusted input against a protocol schema. Every REST body, query string and socket
 * payload goes through here, so the shape of `BAD_REQUEST` (and of an oversize text's
 * `PAYLOAD_TOO_LARGE`) is the same everywhere.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw validationError(result.error);
}

export function validationError(error: z.ZodError): AppError {
  const issues = error.issues;
  if (issues.some((i) => i.code === 'too_big' && i.path[i.path.length - 1] === 'text')) {
    return new AppError('PAYLOAD_TOO_LARGE', 'Message text is too long');
  }
  const fields: FieldIssue[] = issues.map((issue) => ({
    field: issue.path.map(String).join('.') || '(payload)',
    message: describeIssue(issue),
  }));
  return new AppError('BAD_REQUEST', `Invalid input: ${fields.map((f) => `${f.field} ${f.message}`).join('; ')}`, {
    fields,
  });
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `has unknown field(s): ${issue.keys.join(', ')}`;
  if (issue.code === 'invalid_key') {
    const inner = issue.issues[0];
    return inner ? `has an invalid key: ${inner.message}` : 'has an invalid key';
  }
  return issue.message;
}
