import type { z } from 'zod';

/** A refusal: a stable code for programs, one sentence for people. */
export interface Rejection {
  code: string;
  message: string;
  details?: Record<string, unknown> & { field?: string; rule?: string };
}

export type Result<T> = { ok: true; value: T } | { ok: false; rejection: Rejection };

/** Turn the first zod issue into a one-sentence, field-level rejection. */
export function zodRejection(error: z.ZodError, what: string, code = 'VALIDATION_FAILED'): Rejection {
  const issue = error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
  const rule = issue?.code ?? 'invalid';
  const message = `invalid ${what}: ${field}: ${issue?.message ?? 'invalid value'}`;
  return {
    code,
    message,
    details: {
      field,
      rule,
      issues: error.issues.map((i) => ({ path: i.path.map(String).join('.'), code: i.code, message: i.message })),
    },
  };
}

export function parseWith<S extends z.ZodType>(schema: S, input: unknown, what: string): Result<z.infer<S>> {
  const parsed = schema.safeParse(input);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, rejection: zodRejection(parsed.error, what) };
}
