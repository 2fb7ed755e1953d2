export * from './domain/backups.js';
export { backupIdFor } from './domain/backupId.js';
export { dailiesToExpire, type DailyBackupRef } from './domain/retention.js';
export { dueDailySlot, latestSlot, isTimeZone } from './domain/dailySlot.js';
export { requestBackup, setBackupSchedule, type RequestOptions } from './commands.js';
export { BackupConfig } from './config.js';
export { BackupClusters } from './projections/backupClusters.js';
export type { BackupDeps } from './workers/deps.js';
export { BackupWork } from './workers/backupWork.js';
export { DumpProgress } from './workers/progress.js';
export { runDump, type DumpOutcome, type RunDumpOptions } from './workers/runDump.js';
export { deleteEvicted } from './workers/evict.js';
export { processBackups } from './workers/processBackups.js';
export { resumeBackups, INTERRUPTED } from './workers/resume.js';
export { endLeftoverRestores, pgRestore, verifyBackupFile, type RestoreTarget } from './workers/restore.js';
export { requestRestore, type RestoreRequest } from './operations/requestRestore.js';
export { restoreOperation, type RestoreOperationDeps } from './operations/restore.js';
export { RestoreParams } from './operations/restoreParams.js';
export { fenceApp, unfenceApp } from './operations/fence.js';
export { createTargetCluster, waitUntilReady, type Bus, type NewClusterDeps } from './operations/newCluster.js';
export { DailyScheduler, type TickResult } from './workers/schedule.js';
export {
  chooseDumpNode,
  probeNode,
  loadCluster,
  clusterFacts,
  APP_DATABASE,
  APP_ROLE,
  type NodeProbe,
  type DumpNodeChoice,
} from './workers/cluster.js';
