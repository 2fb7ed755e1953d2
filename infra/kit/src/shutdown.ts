import type { Logger } from 'pino';

/** Closes one resource (drain a consumer, close NATS, close the store). */
export type Closer = () => unknown | Promise<unknown>;

export interface ShutdownOptions {
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Per closer: one that has not finished by then is abandoned and the next one runs. */
  timeoutMs?: number;
  signals?: readonly NodeJS.Signals[];
  /** Called once every closer has run: 0 when all closed cleanly, 1 when one failed or timed out. */
  exit?: (code: number) => void;
}

export interface Shutdown {
  /** Register a closer; closers run in reverse order of registration (last opened, first closed). */
  register(name: string, closer: Closer): void;
  /** Run every closer then exit. Calling it again (or a second signal) returns the same promise. */
  shutdown(reason: string): Promise<number>;
  /** Remove the signal handlers (for tests and embedders). */
  dispose(): void;
  /** True once a shutdown has begun. */
  isStopping(): boolean;
}

/**
 * Graceful shutdown on SIGTERM / SIGINT: run the registered closers in reverse, each bounded by
 * a timeout, then exit.
 */
export function gracefulShutdown(options: ShutdownOptions = {}): Shutdown {
  const {
    logger,
    timeoutMs = 10_000,
    signals = ['SIGTERM', 'SIGINT'],
    exit = (code: number) => process.exit(code),
  } = options;
  const closers: { name: string; closer: Closer }[] = [];
  let running: Promise<number> | undefined;

  const shutdown = (reason: string): Promise<number> => {
    running ??= (async () => {
      logger?.info({ reason }, 'shutting down');
      let code = 0;
      for (const { name, closer } of [...closers].reverse()) {
        const outcome = await closeWithin(closer, timeoutMs);
        if (outcome === 'closed') logger?.info({ closer: name }, 'closed');
        else {
          code = 1;
          if (outcome === 'timeout') logger?.warn({ closer: name, timeoutMs }, 'closer timed out');
          else logger?.error({ closer: name, err: outcome.error }, 'closer failed');
        }
      }
      dispose();
      exit(code);
      return code;
    })();
    return running;
  };

  const onSignal = (signal: NodeJS.Signals) => void shutdown(signal);
  for (const signal of signals) process.on(signal, onSignal);
  const dispose = () => {
    for (const signal of signals) process.off(signal, onSignal);
  };

  return {
    register: (name, closer) => void closers.push({ name, closer }),
    shutdown,
    dispose,
    isStopping: () => running !== undefined,
  };
}

async function closeWithin(closer: Closer, timeoutMs: number): Promise<'closed' | 'timeout' | { error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    return await Promise.race([
      Promise.resolve()
        .then(closer)
        .then(() => 'closed' as const),
      timeout,
    ]);
  } catch (error) {
    return { error };
  } finally {
    clearTimeout(timer);
  }
}
