import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger } from 'pino';

const SECRET_KEYS = [
  'password',
  'passwd',
  'secret',
  'token',
  'accessToken',
  'refreshToken',
  'apiKey',
  'privateKey',
  'passphrase',
  'authorization',
  'cookie',
];

/**
 * Paths pino blanks out before a line is written: secret-ish keys at the top level and up to
 * two levels deep (`{ password }`, `{ db: { password } }`, `{ req: { headers: { authorization } } }`).
 */
export const REDACT_PATHS: string[] = SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);

export const REDACTED = '[redacted]';

export interface LoggerOptions {
  /** Where lines go (default: stdout). Tests pass a stream to read them back. */
  destination?: DestinationStream;
  /** Extra fields on every line. */
  base?: Record<string, unknown>;
}

/** A structured (JSON, one line per entry) logger for one service; secrets are redacted. */
export function createLogger(service: string, level: LogLevel = 'info', options: LoggerOptions = {}): Logger {
  const config = {
    level,
    base: { service, ...options.base },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}

/** A child logger whose every line carries the correlation id of the work in hand. */
export function withCorrelation(logger: Logger, correlationId: string, fields: Record<string, unknown> = {}): Logger {
  return logger.child({ correlationId, ...fields });
}

/** A URL safe to log: its password (if any) replaced, e.g. `postgres://app:[redacted]@host/db`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = REDACTED;
    return parsed.toString().replace(encodeURIComponent(REDACTED), REDACTED);
  } catch {
    return '[unparseable url]';
  }
}
