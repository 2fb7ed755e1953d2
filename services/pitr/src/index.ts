export * from './domain/pitr.js';
export { readArchiver, type ArchiverSample, type ArchiverReading } from './domain/archiver.js';
export {
  dueWeeklySlot,
  latestWeeklySlot,
  nextWeeklySlot,
  DEFAULT_WEEKLY,
  type WeeklySchedule,
} from './domain/weeklySlot.js';
export { pitrBackupIdFor } from './domain/backupId.js';
export { requestPitrBackup } from './commands.js';
export { PitrConfig } from './config.js';
export { PitrClusters } from './projections/pitrClusters.js';
export type { PitrDeps } from './workers/deps.js';
export { PitrWork } from './workers/pitrWork.js';
export { ArchiverMonitor } from './workers/monitor.js';
export { WeeklyScheduler } from './workers/schedule.js';
export { enableArchiving } from './workers/enable.js';
export { runFullBackup, processFullBackups, applyRetention } from './workers/fullBackup.js';
export { retainArchive, removeExpiredArchive } from './workers/deletedArchive.js';
export { sampleArchiver } from './workers/archiverSample.js';
export { archiverStatus } from './workers/status.js';
export { loadCluster, pitrFacts, archivedLeader, chooseBackupNode } from './workers/cluster.js';
export { loadPitr, recordPitr } from './workers/record.js';
