import type pg from 'pg';
import type { SubscribeOptions, Subscription } from '../port.js';
import { runSubscription, type SubscriptionSource, type SubscriptionTiming } from '../subscription/runSubscription.js';
import { loadCheckpoint, storeCheckpoint } from './checkpoints.js';
import type { Notifications } from './notifications.js';
import { currentHead, readGlobalPage } from './readAll.js';
import type { StoreSchema } from './schema.js';

/**
 * A durable subscription on the PostgreSQL store: pages of the global order from the stored
 * checkpoint, woken by NOTIFY from every append, with a slow poll as a fallback (an event held
 * behind a transaction that rolls back becomes readable without any new notification).
 */
export function subscribe(pool: pg.Pool, s: StoreSchema, notifications: Notifications, options: SubscribeOptions, timing: SubscriptionTiming, ready: () => Promise<void> = async () => undefined): Subscription {
  const source: SubscriptionSource = {
    read: (after, limit) => readGlobalPage(pool, s, after, limit),
    head: () => currentHead(pool),
    listen: (wake) => notifications.listen(wake),
    loadCheckpoint: async (id) => {
      await ready();
      return loadCheckpoint(pool, s, id);
    },
    storeCheckpoint: (id, checkpoint) => storeCheckpoint(pool, s, id, checkpoint),
  };
  return runSubscription(source, options, timing);
}
