import type pg from 'pg';
import type { Parking } from '../parking.js';
import type { SubscribeOptions, Subscription } from '../port.js';
import { runSubscription, type SubscriptionSource, type SubscriptionTiming } from '../subscription/runSubscription.js';
import { loadCheckpoint, storeCheckpoint } from './checkpoints.js';
import { currentHead, readGlobalPage } from './readAll.js';
import type { StoreSchema } from './schema.js';

/** What a subscription needs of the store besides its pool and tables. */
export interface SubscribeDeps {
  parking: Parking;
  /** Call `wake` when new events may be readable (NOTIFY, local appends); returns the unsubscribe. */
  onAppended: (wake: () => void) => () => void;
  ready: () => Promise<void>;
}

/**
 * A durable subscription on the PostgreSQL store: pages of the global order from the stored
 * checkpoint, woken by NOTIFY from every append, with a slow poll as a fallback (an event held
 * behind a transaction that rolls back becomes readable without any new notification). Parked
 * events are left out; the checkpoint passes them.
 */
export function subscribe(
  pool: pg.Pool,
  s: StoreSchema,
  deps: SubscribeDeps,
  options: SubscribeOptions,
  timing: SubscriptionTiming,
): Subscription {
  const source: SubscriptionSource = {
    read: (after, limit) => readGlobalPage(pool, s, deps.parking, after, limit),
    head: () => currentHead(pool),
    listen: deps.onAppended,
    loadCheckpoint: async (id) => {
      await deps.ready();
      return loadCheckpoint(pool, s, id);
    },
    storeCheckpoint: (id, checkpoint) => storeCheckpoint(pool, s, id, checkpoint),
  };
  return runSubscription(source, options, timing);
}
