import pg from 'pg';
import type { AppendResult, Checkpoint, EventStore, NewEvent, SubscribeOptions, Subscription } from '../port.js';
import { logParkedEvent, Parking, type OnParked } from '../parking.js';
import { DEFAULT_TIMING } from '../subscription/runSubscription.js';
import { appendToStream, type PostgresAppendOptions } from './appendToStream.js';
import { WakeUp } from './wakeUp.js';
import { loadCheckpoint, storeCheckpoint } from './checkpoints.js';
import { Notifications } from './notifications.js';
import { recordParkedEvents } from './parkedEvents.js';
import { readAll } from './readAll.js';
import { readStream } from './readStream.js';
import { migrateSchema, storeSchema } from './schema.js';
import { subscribe } from './subscribe.js';

export interface PostgresEventStoreOptions {
  connectionString: string;
  /** PostgreSQL schema holding the store's tables (default `pgfleet_eventstore`). */
  schema?: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /**
   * Every event store connection runs with short timeouts: an open write transaction holds
   * back every reader of the global order (they read only below the oldest open transaction),
   * so no statement or forgotten transaction may stay open long. Defaults 30 s and 10 s.
   */
  statementTimeoutMs?: number;
  idleInTransactionTimeoutMs?: number;
  /** Fallback poll of idle subscribers, besides LISTEN/NOTIFY (default 500 ms). */
  pollIntervalMs?: number;
  /** Create or migrate the schema on first use (default true); `migrate()` does it explicitly. */
  autoMigrate?: boolean;
  /** TLS options passed to `pg` (when the server requires TLS). */
  ssl?: pg.ClientConfig['ssl'];
  applicationName?: string;
  /** Errors of idle connections and of the LISTEN connection (they are retried). */
  onConnectionError?: (error: unknown) => void;
  /**
   * Reports an event that reads leave out (see ParkedEvent), once: when it is first recorded
   * in the `parked_events` table. Default: one JSON line on stderr.
   */
  onParked?: OnParked;
}

export interface PostgresEventStore extends EventStore {
  appendToStream(streamId: string, events: readonly NewEvent[], options?: PostgresAppendOptions): Promise<AppendResult>;
  /** Create or migrate the store's tables (idempotent; safe from several processes). */
  migrate(): Promise<void>;
}

/** The EventStore on PostgreSQL (the default adapter); see the design's "Global order". */
export function createPostgresEventStore(options: PostgresEventStoreOptions): PostgresEventStore {
  const s = storeSchema(options.schema);
  const onConnectionError = options.onConnectionError ?? (() => undefined);
  const clientConfig: pg.ClientConfig = {
    connectionString: options.connectionString,
    ssl: options.ssl,
    application_name: options.applicationName ?? 'pgfleet-eventstore',
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 10_000,
  };
  const pool = new pg.Pool({ ...clientConfig, max: options.poolSize ?? 10 });
  pool.on('error', onConnectionError);
  const notifications = new Notifications(clientConfig, s.channel, onConnectionError);
  const wakeUp = new WakeUp(pool, s.channel);
  const parking = new Parking(options.onParked ?? logParkedEvent, (events) => recordParkedEvents(pool, s, events));
  /** Listeners in this process: woken at once by its own appends, without waiting for the NOTIFY. */
  const local = new Set<() => void>();
  const onAppended = (listener: () => void) => {
    local.add(listener);
    const unlisten = notifications.listen(listener);
    return () => {
      local.delete(listener);
      unlisten();
    };
  };
  const timing = { ...DEFAULT_TIMING, pollIntervalMs: options.pollIntervalMs ?? DEFAULT_TIMING.pollIntervalMs };
  const subscriptions = new Set<Subscription>();

  let migrated: Promise<void> | undefined;
  const migrate = () => {
    migrated ??= migrateSchema(pool, s).then(
      () => undefined,
      (error: unknown) => {
        migrated = undefined;
        throw error;
      },
    );
    return migrated;
  };
  const ready = options.autoMigrate === false ? () => Promise.resolve() : migrate;

  return {
    migrate,
    async appendToStream(streamId, events, appendOptions) {
      await ready();
      const result = await appendToStream(pool, s, parking, streamId, events, appendOptions);
      if (!result.alreadyAppended && result.events.length > 0) {
        wakeUp.ping();
        for (const listener of local) wakeSafely(listener);
      }
      return result;
    },
    async readStream(streamId, readOptions) {
      await ready();
      return readStream(pool, s, parking, streamId, readOptions);
    },
    async readAll(readOptions) {
      await ready();
      return readAll(pool, s, parking, readOptions);
    },
    subscribe(subscribeOptions: SubscribeOptions): Subscription {
      const subscription = subscribe(pool, s, { parking, onAppended, ready }, subscribeOptions, timing);
      const tracked: Subscription = {
        stop: async () => {
          subscriptions.delete(tracked);
          await subscription.stop();
        },
        caughtUp: () => subscription.caughtUp(),
      };
      subscriptions.add(tracked);
      return tracked;
    },
    async loadCheckpoint(subscriberId: string): Promise<Checkpoint> {
      await ready();
      return loadCheckpoint(pool, s, subscriberId);
    },
    async storeCheckpoint(subscriberId: string, checkpoint: Checkpoint) {
      await ready();
      return storeCheckpoint(pool, s, subscriberId, checkpoint);
    },
    onAppended,
    async close() {
      await Promise.all([...subscriptions].map((sub) => sub.stop()));
      local.clear();
      await wakeUp.flush();
      await notifications.close();
      await pool.end();
    },
  };
}

/** A listener's failure is its own: it never fails the append that woke it. */
function wakeSafely(listener: () => void): void {
  try {
    listener();
  } catch {
    // ignored: wake-ups are hints
  }
}
