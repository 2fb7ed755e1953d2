/** The slice of a pino logger the bus uses (pino's `logger.warn(obj, msg)` fits). */
export interface BusLogger {
  /** Optional: what only a debugging reader wants (a readiness probe's rejection). */
  debug?(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export const silentLogger: BusLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** A log-safe description of an error (its name, code and message; never a payload). */
export function errorFields(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { err: { name: error.name, message: error.message, ...(code !== undefined ? { code } : {}) } };
  }
  return { err: { message: String(error) } };
}
