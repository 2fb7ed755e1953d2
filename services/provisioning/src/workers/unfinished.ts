import type { EventStore } from '@pgfleet/eventstore';
import { applyStatus } from './statusOf.js';

/** Clusters whose history says work is under way (provisioning or deleting). */
export async function unfinishedClusters(store: EventStore): Promise<string[]> {
  const status = new Map<string, string>();
  let after: string | null = null;
  for (;;) {
    const page = await store.readAll({ after, limit: 5000 });
    for (const e of page.events) applyStatus(status, e);
    after = page.checkpoint;
    if (page.events.length < 5000) break;
  }
  return [...status].filter(([, s]) => s === 'provisioning' || s === 'deleting').map(([id]) => id);
}
