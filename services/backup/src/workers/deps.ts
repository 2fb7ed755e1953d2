import type { BackupStore } from '@pgfleet/backupstore';
import type { EventStore } from '@pgfleet/eventstore';
import type { Logger } from '@pgfleet/kit';
import type { NodeRuntime } from '@pgfleet/runtime';
import type { DumpProgress } from './progress.js';

/** What the backup workers need: the event store, the backup files, the nodes' runtime, a logger, progress. */
export interface BackupDeps {
  store: EventStore;
  files: BackupStore;
  /** The only way to reach a node (pg_dump, pg_restore, SQL): by its runtime id. */
  runtime: NodeRuntime;
  log: Logger;
  progress?: DumpProgress;
}
