import { resolve } from 'node:path';
import { z } from 'zod';

/** Bad configuration: one sentence naming the environment variable and the rule it breaks. */
export class ConfigError extends Error {
  readonly code = 'INVALID_CONFIG';
  constructor(
    message: string,
    readonly variable: string,
    readonly rule: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const url = (protocols: readonly string[], example: string) =>
  z.string().refine((value) => {
    try {
      return protocols.includes(new URL(value).protocol.replace(/:$/, ''));
    } catch {
      return false;
    }
  }, `must be a URL like ${example}`);

/**
 * The settings every service reads. Each service extends it with its own:
 * `const Config = BaseConfig.extend({ PGFLEET_BACKUP_HOUR: ... })`.
 */
export const BaseConfig = z.object({
  /** Where pgfleet keeps its state (servers, secrets, backups); resolved to an absolute path. */
  PGFLEET_HOME: z
    .string()
    .min(1)
    .default('./.pgfleet')
    .transform((p) => resolve(p)),
  /** An existing NATS server; unset = the embedded one `pgfleet up` starts. */
  PGFLEET_NATS_URL: url(['nats', 'tls', 'ws', 'wss'], 'nats://127.0.0.1:4222').optional(),
  /** An existing event store database; unset = the embedded control-plane PostgreSQL. */
  PGFLEET_EVENTSTORE_URL: url(
    ['postgres', 'postgresql', 'esdb', 'kurrentdb'],
    'postgres://user@127.0.0.1:5432/pgfleet_events',
  ).optional(),
  PGFLEET_LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  /** Port of the /healthz endpoint; 0 = any free port; unset = no health endpoint. */
  PGFLEET_HEALTH_PORT: z.coerce
    .number()
    .int('must be a whole number')
    .min(0, 'must be 0-65535')
    .max(65535, 'must be 0-65535')
    .optional(),
});
export type BaseConfig = z.infer<typeof BaseConfig>;

/**
 * Read a service's configuration from the environment through its zod schema. Empty variables
 * count as unset (so defaults apply). Throws a ConfigError naming the first bad variable.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const variable = issue.path.map(String).join('.') || '(environment)';
  const missing = issue.code === 'invalid_type' && input[variable] === undefined;
  const rule = missing ? 'required' : issue.code;
  const sentence = missing ? 'is required but not set' : `is invalid: ${lowerFirst(issue.message)}`;
  throw new ConfigError(`configuration error: ${variable} ${sentence}.`, variable, rule);
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}
