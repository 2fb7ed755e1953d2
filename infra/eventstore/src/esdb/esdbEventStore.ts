import { EventStoreDBClient } from '@eventstore/db-client';
import type { EventStore, Subscription } from '../port.js';
import { runSubscription, type SubscriptionSource } from '../subscription/runSubscription.js';
import { appendToStream } from './esdbAppend.js';
import { loadCheckpoint, storeCheckpoint } from './esdbCheckpoints.js';
import { headPosition, readAllPage, readStream } from './esdbRead.js';

export interface EsdbEventStoreOptions {
  /** e.g. `esdb://localhost:2113?tls=false` */
  connectionString: string;
  /** Subscriptions poll $all this often when idle (default 200 ms). */
  pollIntervalMs?: number;
}

/**
 * The EventStore on EventStoreDB / KurrentDB: streams map one to one; the global order is $all
 * (its commit order never changes, so no out-of-order care is needed); checkpoints are $all
 * positions; subscriptions poll $all.
 */
export function createEsdbEventStore(options: EsdbEventStoreOptions): EventStore {
  const client = EventStoreDBClient.connectionString(options.connectionString);
  const subscriptions = new Set<Subscription>();
  const source: SubscriptionSource = {
    read: (after, limit) => readAllPage(client, after, limit),
    head: () => headPosition(client),
    listen: () => () => undefined,
    loadCheckpoint: (id) => loadCheckpoint(client, id),
    storeCheckpoint: (id, checkpoint) => storeCheckpoint(client, id, checkpoint),
  };
  const timing = { pollIntervalMs: options.pollIntervalMs ?? 200, retryDelayMs: 250 };
  return {
    appendToStream: (streamId, events, appendOptions) => appendToStream(client, streamId, events, appendOptions?.expectedVersion),
    readStream: (streamId, readOptions) => readStream(client, streamId, readOptions),
    async readAll(readOptions = {}) {
      const page = await readAllPage(client, readOptions.after ?? null, readOptions.limit ?? 1000);
      // The port promises an unchanged checkpoint when nothing is returned.
      return { events: page.events, checkpoint: page.events.length > 0 ? page.checkpoint : readOptions.after ?? null };
    },
    subscribe(subscribeOptions) {
      const subscription = runSubscription(source, subscribeOptions, timing);
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
    loadCheckpoint: (id) => loadCheckpoint(client, id),
    storeCheckpoint: (id, checkpoint) => storeCheckpoint(client, id, checkpoint),
    async close() {
      await Promise.all([...subscriptions].map((s) => s.stop()));
      await client.dispose();
    },
  };
}
