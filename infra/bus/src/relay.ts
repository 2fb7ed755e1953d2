import type { JetStreamClient } from '@nats-io/jetstream';
import type { EventEnvelope } from '@pgfleet/contracts';
import type { Checkpoint, EventStore } from '@pgfleet/eventstore';
import { ensureEventsStream } from './eventsStream.js';
import { errorFields, silentLogger, type BusLogger } from './logger.js';
import { publishEvent } from './publishEvent.js';

export interface RelayOptions {
  store: EventStore;
  js: JetStreamClient;
  /** Name of the relay's checkpoint in the store (default 'relay'). */
  relayId?: string;
  /** Events read and published per batch (default 500). */
  batchSize?: number;
  /**
   * While the store has nothing new the relay sleeps until the store says events were appended
   * (`onAppended`); this is the fallback poll when no such wake-up comes (default 500 ms).
   */
  idlePollMs?: number;
  /** Pause before retrying a failed read, publish or checkpoint (default 250 ms). */
  retryDelayMs?: number;
  /** Wait for each publish ack at most this long before retrying the batch (default 5000 ms). */
  publishTimeoutMs?: number;
  /** Create or update the PGFLEET_EVENTS stream before relaying (default true). */
  ensureStream?: boolean;
  logger?: BusLogger;
}

export interface Relay {
  /** Stops after the batch in hand is published and checkpointed (or abandoned if NATS is down). */
  stop(): Promise<void>;
  /** Resolves once every event readable when called has been published and checkpointed. */
  caughtUp(): Promise<void>;
}

/**
 * The relay: the event store is the outbox. It reads the store in global order from its
 * checkpoint, publishes each batch with `Nats-Msg-Id` = event id, waits for every ack, and
 * only then stores the checkpoint (while it reads the next batch). A batch that fails (NATS
 * down, timeout) is published again until acknowledged; JetStream drops the copies already
 * stored (duplicate window), and a relay restarted after a crash resumes from its last
 * checkpoint: no event is lost or duplicated. While idle it sleeps until the store says events
 * were appended (`onAppended`), with a slow fallback poll.
 */
export function startRelay(opts: RelayOptions): Relay {
  const { store, js } = opts;
  const relayId = opts.relayId ?? 'relay';
  const batchSize = opts.batchSize ?? 500;
  const idlePollMs = opts.idlePollMs ?? 500;
  const retryDelayMs = opts.retryDelayMs ?? 250;
  const logger = opts.logger ?? silentLogger;
  const log = { relayId };
  let stopped = false;
  /** Set by a wake-up: the next idle sleep returns at once (none is lost between read and sleep). */
  let woken = false;
  /** Ends the idle sleep in progress (a wake-up or stop); retry pauses end on stop only. */
  let endIdle: (() => void) | undefined;
  const sleepers = new Set<() => void>();
  /** Waiters resolved by the first drained read that started after they were registered. */
  let waiting: (() => void)[] = [];

  const sleep = (ms: number, idle = false) =>
    new Promise<void>((resolve) => {
      if (stopped || (idle && woken)) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        sleepers.delete(done);
        if (endIdle === done) endIdle = undefined;
        resolve();
      }
      sleepers.add(done);
      if (idle) endIdle = done;
    });
  const wake = () => {
    woken = true;
    endIdle?.();
  };

  /** Run `step` until it succeeds, or fails once the relay is stopping (then undefined). */
  async function retrying<T>(what: string, step: () => Promise<T>): Promise<{ value: T } | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return { value: await step() };
      } catch (error) {
        if (stopped) return undefined;
        if (attempt === 1 || attempt % 20 === 0)
          logger.warn({ ...log, attempt, ...errorFields(error) }, `relay ${what} failed; retrying`);
        await sleep(retryDelayMs);
      }
    }
  }

  async function publishBatch(events: EventEnvelope[]): Promise<number> {
    const acks = await Promise.all(
      events.map((e) => publishEvent(js, e, { timeoutMs: opts.publishTimeoutMs ?? 5000 })),
    );
    return acks.filter((a) => a.duplicate).length;
  }

  const loop = async () => {
    if (opts.ensureStream ?? true) {
      const jsm = await retrying('stream setup', () => js.jetstreamManager());
      if (!jsm || !(await retrying('stream setup', () => ensureEventsStream(jsm.value)))) return;
    }
    const loaded = await retrying('checkpoint load', () => store.loadCheckpoint(relayId));
    if (!loaded) return;
    let checkpoint: Checkpoint = loaded.value;
    /** The checkpoint store in flight (false when abandoned on stop): one at a time, in order. */
    let storing: Promise<boolean> = Promise.resolve(true);
    while (!stopped) {
      const readers = waiting;
      waiting = [];
      woken = false;
      const after: Checkpoint = checkpoint;
      const read = await retrying('read', () => store.readAll({ after, limit: batchSize }));
      if (!read) break;
      const page = read.value;
      if (page.events.length > 0) {
        const published = await retrying('publish', () => publishBatch(page.events));
        if (!published) break;
        if (published.value > 0) {
          logger.info(
            { ...log, duplicates: published.value, events: page.events.length },
            'relay republished events JetStream already had',
          );
        }
      }
      // Also after a read of parked events only (left out by the store): the checkpoint passes them.
      if (page.checkpoint !== checkpoint) {
        // Stored once the batch is acknowledged, while the next one is read and published (the
        // store's disk flush overlaps them); a crash before it is stored republishes this batch.
        if (!(await storing)) break;
        const at = page.checkpoint;
        storing = retrying('checkpoint store', () => store.storeCheckpoint(relayId, at)).then(
          (stored) => stored !== undefined,
        );
        checkpoint = at;
      }
      if (page.events.length < batchSize) {
        void storing.then((stored) => {
          if (stored) for (const resolve of readers) resolve();
        });
        // Until the store says events were appended (or the fallback poll).
        if (page.events.length === 0) await sleep(idlePollMs, true);
      } else {
        waiting.push(...readers);
      }
    }
    await storing;
  };

  const unlisten = store.onAppended(wake);
  const running = loop()
    .finally(unlisten)
    .catch((error: unknown) => {
      logger.error({ ...log, ...errorFields(error) }, 'relay stopped on an unexpected error');
    });

  return {
    async stop() {
      stopped = true;
      for (const done of [...sleepers]) done();
      await running;
    },
    caughtUp() {
      if (stopped) return Promise.reject(new Error('relay is stopped'));
      const caught = new Promise<void>((resolve) => waiting.push(resolve));
      wake();
      return caught;
    },
  };
}
