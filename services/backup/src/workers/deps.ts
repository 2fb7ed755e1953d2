import type { BackupStore } from '@pgfleet/backupstore';
import type { EventStore } from '@pgfleet/eventstore';
import type { Logger } from '@pgfleet/kit';
import type { SecretStore } from '@pgfleet/postgres';
import type { NodeRuntime } from '@pgfleet/runtime';
import type { DumpProgress } from './progress.js';

/** What the backup workers need: the event store, backup files, the nodes' runtime, the secrets, a log, progress. */
export interface BackupDeps {
  store: EventStore;
  files: BackupStore;
  /** The only way to reach a node (pg_dump, pg_restore, SQL): by its runtime id. */
  runtime: NodeRuntime;
  /** The clusters' passwords: pg_dump and pg_restore log in as the database's owner with its own. */
  secrets: SecretStore;
  log: Logger;
  progress?: DumpProgress;
}
