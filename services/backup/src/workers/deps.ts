import type { EventStore } from '@pgfleet/eventstore';
import type { Logger } from '@pgfleet/kit';
import type { BackupStore } from '@pgfleet/backupstore';
import type { DumpProgress } from './progress.js';

/** What the backup workers need: the event store, the backup files, a logger, progress. */
export interface BackupDeps {
  store: EventStore;
  files: BackupStore;
  log: Logger;
  progress?: DumpProgress;
}
