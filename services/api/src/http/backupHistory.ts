import { foldBackups, streamIds, type BackupsState } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';

/** The backups of a cluster and their schedule: its `backups-{clusterId}` stream, folded by the contracts' view. */
export async function loadBackups(store: EventStore, clusterId: string): Promise<BackupsState> {
  const { events } = await store.readStream(streamIds.backups(clusterId));
  return foldBackups(events);
}
