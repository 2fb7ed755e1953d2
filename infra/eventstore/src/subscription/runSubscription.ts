import type { EventEnvelope } from '@pgfleet/contracts';
import type { Checkpoint, SubscribeOptions, Subscription } from '../port.js';

/** A page of the global order as a subscription needs it. */
export interface SourcePage {
  events: EventEnvelope[];
  /** The checkpoint after each event. */
  checkpoints: string[];
  /** Where to continue after the whole page (may pass events the source filtered out). */
  checkpoint: Checkpoint;
  /** Nothing more was readable when the page was read. */
  drained: boolean;
  /** A drained page covers every mark up to this horizon (see `head`). */
  horizon: bigint;
}

/** What an adapter provides to run durable subscriptions on top of it. */
export interface SubscriptionSource {
  read(after: Checkpoint, limit: number): Promise<SourcePage>;
  /** A mark for "everything committed now": covered once a drained page has horizon >= mark. */
  head(): Promise<bigint>;
  /** Call `wake` when new events may be readable; returns an unsubscribe function. */
  listen(wake: () => void): () => void;
  loadCheckpoint(subscriberId: string): Promise<Checkpoint>;
  storeCheckpoint(subscriberId: string, checkpoint: Checkpoint): Promise<void>;
}

export interface SubscriptionTiming {
  /** Fallback poll while idle (a notification may be lost, or events may unblock silently). */
  pollIntervalMs: number;
  /** Pause before retrying after a failed read or handler. */
  retryDelayMs: number;
}

export const DEFAULT_TIMING: SubscriptionTiming = { pollIntervalMs: 500, retryDelayMs: 250 };

/**
 * Catch up from the durable checkpoint, then follow live. The handler runs one event at a
 * time; the checkpoint is stored after each page (and on stop, after the event in hand), so a
 * restarted subscriber resumes with no gap and, after a clean stop, no repeat.
 */
export function runSubscription(
  source: SubscriptionSource,
  options: SubscribeOptions,
  timing: SubscriptionTiming = DEFAULT_TIMING,
): Subscription {
  const { subscriberId, handler } = options;
  const durable = options.durable ?? true;
  const batchSize = options.batchSize ?? 1000;
  const types = options.types ? new Set(options.types) : undefined;
  const onError = options.onError ?? (() => undefined);
  const waiters: { mark: bigint; resolve: () => void; reject: (e: Error) => void }[] = [];
  let stopped = false;
  let pendingWake = false;
  let interrupt: (() => void) | undefined;

  const wake = () => {
    pendingWake = true;
    interrupt?.();
  };
  const unlisten = source.listen(wake);

  const idle = (ms: number) =>
    new Promise<void>((resolve) => {
      if (pendingWake || stopped) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        interrupt = undefined;
        resolve();
      }
      interrupt = done;
    });

  const settle = (page: SourcePage) => {
    if (!page.drained) return;
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.mark <= page.horizon) waiters.splice(i, 1)[0]!.resolve();
    }
  };

  const loop = async () => {
    let stored: Checkpoint | undefined;
    while (!stopped && stored === undefined) {
      try {
        stored = durable ? await source.loadCheckpoint(subscriberId) : null;
      } catch (error) {
        onError(error);
        await idle(timing.retryDelayMs);
      }
    }
    let handled = stored ?? null;
    while (!stopped) {
      pendingWake = false;
      try {
        const page = await source.read(handled, batchSize);
        for (let i = 0; i < page.events.length && !stopped; i++) {
          const event = page.events[i]!;
          if (!types || types.has(event.type)) await handler(event);
          handled = page.checkpoints[i]!;
        }
        if (!stopped) handled = page.checkpoint;
        if (handled !== stored) {
          if (durable) await source.storeCheckpoint(subscriberId, handled);
          stored = handled;
        }
        if (stopped) break;
        settle(page);
        if (page.drained) await idle(timing.pollIntervalMs);
      } catch (error) {
        onError(error);
        if (handled !== stored) {
          try {
            if (durable) await source.storeCheckpoint(subscriberId, handled);
            stored = handled;
          } catch {
            handled = stored ?? null;
          }
        }
        await idle(timing.retryDelayMs);
      }
    }
  };
  const running = loop();

  return {
    async stop() {
      stopped = true;
      interrupt?.();
      await running;
      unlisten();
      for (const waiter of waiters.splice(0))
        waiter.reject(new Error(`subscription ${subscriberId} stopped before catching up`));
    },
    async caughtUp() {
      if (stopped) throw new Error(`subscription ${subscriberId} is stopped`);
      const mark = await source.head();
      const promise = new Promise<void>((resolve, reject) => waiters.push({ mark, resolve, reject }));
      wake();
      return promise;
    },
  };
}
