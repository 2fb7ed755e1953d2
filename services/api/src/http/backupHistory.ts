import {
  evolveBackups,
  initialBackupsState,
  streamIds,
  type BackupEvent,
  type BackupsState,
  type EventEnvelope,
} from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';

/** The types of the backups view; the compiler checks this list against `BackupEvent`, both ways. */
const BACKUP_EVENT_TYPES: Record<BackupEvent['type'], true> = {
  BackupRequested: true,
  QuotaExceeded: true,
  BackupRejected: true,
  BackupEvicted: true,
  BackupStarted: true,
  BackupCompleted: true,
  BackupFailed: true,
  BackupDeleted: true,
  BackupExpired: true,
  BackupScheduleSet: true,
};

const isBackupEvent = (e: EventEnvelope): e is EventEnvelope & BackupEvent => Object.hasOwn(BACKUP_EVENT_TYPES, e.type);

/** The backups of a cluster and their schedule: its `backups-{clusterId}` stream, folded by the contracts' view. */
export async function loadBackups(store: EventStore, clusterId: string): Promise<BackupsState> {
  const { events } = await store.readStream(streamIds.backups(clusterId));
  return events.filter(isBackupEvent).reduce(evolveBackups, initialBackupsState());
}
