import { EventStoreDBClient } from '@eventstore/db-client';
import { logParkedEvent, Parking, type OnParked } from '../parking.js';
import type { EventStore, Subscription } from '../port.js';
import { runSubscription, type SubscriptionSource } from '../subscription/runSubscription.js';
import { appendToStream } from './esdbAppend.js';
import { AppendedSignal } from './esdbAppendedSignal.js';
import { loadCheckpoint, storeCheckpoint } from './esdbCheckpoints.js';
import { headPosition, readAllPage, readStream } from './esdbRead.js';

export interface EsdbEventStoreOptions {
  /** e.g. `esdb://localhost:2113?tls=false` */
  connectionString: string;
  /** Subscriptions and `onAppended` poll the head of $all this often when idle (default 200 ms). */
  pollIntervalMs?: number;
  /**
   * Reports an event that reads leave out (see ParkedEvent), once per store. Default: one JSON
   * line on stderr.
   */
  onParked?: OnParked;
}

/**
 * The EventStore on EventStoreDB / KurrentDB: streams map one to one; the global order is $all
 * (its commit order never changes, so no out-of-order care is needed); checkpoints are $all
 * positions; subscriptions poll $all, and wake at once on this store's own appends.
 */
export function createEsdbEventStore(options: EsdbEventStoreOptions): EventStore {
  const client = EventStoreDBClient.connectionString(options.connectionString);
  const subscriptions = new Set<Subscription>();
  const parking = new Parking(options.onParked ?? logParkedEvent);
  const pollIntervalMs = options.pollIntervalMs ?? 200;
  const appended = new AppendedSignal(() => headPosition(client), pollIntervalMs);
  const source: SubscriptionSource = {
    read: (after, limit) => readAllPage(client, parking, after, limit),
    head: () => headPosition(client),
    listen: (wake) => appended.listen(wake),
    loadCheckpoint: (id) => loadCheckpoint(client, id),
    storeCheckpoint: (id, checkpoint) => storeCheckpoint(client, id, checkpoint),
  };
  const timing = { pollIntervalMs, retryDelayMs: 250 };
  return {
    async appendToStream(streamId, events, appendOptions) {
      const result = await appendToStream(client, parking, streamId, events, appendOptions?.expectedVersion);
      if (!result.alreadyAppended && result.events.length > 0) appended.wake();
      return result;
    },
    readStream: (streamId, readOptions) => readStream(client, parking, streamId, readOptions),
    async readAll(readOptions = {}) {
      const after = readOptions.after ?? null;
      const page = await readAllPage(client, parking, after, readOptions.limit ?? 1000);
      // The port promises an unchanged checkpoint when nothing was read (system events aside).
      return { events: page.events, checkpoint: page.events.length > 0 || page.parked > 0 ? page.checkpoint : after };
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
    onAppended: (listener) => appended.listen(listener),
    async close() {
      await Promise.all([...subscriptions].map((s) => s.stop()));
      appended.close();
      await client.dispose();
    },
  };
}
