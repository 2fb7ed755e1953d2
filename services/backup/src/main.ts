import { join, resolve } from 'node:path';
import { createFileBackupStore } from '@pgfleet/backupstore';
import type { EventEnvelope } from '@pgfleet/contracts';
import { runService } from '@pgfleet/kit';
import { createProcessRuntime } from '@pgfleet/runtime';
import { z } from 'zod';
import { requestBackup, setBackupSchedule } from './commands.js';
import { BackupConfig } from './config.js';
import { requestRestore } from './operations/requestRestore.js';
import { restoreOperation } from './operations/restore.js';
import { BackupClusters } from './projections/backupClusters.js';
import { BackupWork } from './workers/backupWork.js';
import type { BackupDeps } from './workers/deps.js';
import { DumpProgress } from './workers/progress.js';
import { DailyScheduler } from './workers/schedule.js';

/** `pgfleet.queries.backup.BackupProgress {backupId}`: bytes so far of a running dump, or null. */
const ProgressRequest = z.object({ backupId: z.string().min(1) });
/** Events (decided by any replica) after which a cluster's backups need work. */
const WORK_EVENTS: ReadonlySet<string> = new Set(['BackupRequested', 'BackupEvicted', 'BackupExpired']);
const clusterOf = (event: EventEnvelope) => event.streamId.slice('backups-'.length);

/**
 * The backup service: accepts backup commands, takes dumps, evicts and expires, fires dailies, runs
 * restore operations.
 */
await runService({
  name: 'backup',
  config: BackupConfig,
  setup: ({ config, log, home, store, nc }) => {
    const progress = new DumpProgress();
    const files = createFileBackupStore(resolve(config.PGFLEET_BACKUP_DIR ?? join(home, 'backups')));
    const deps: BackupDeps = { store, files, runtime: createProcessRuntime({ home }), log, progress };
    const work = new BackupWork(deps);
    const scheduler = new DailyScheduler(deps, undefined, (clusterId) => work.request(clusterId));
    const clusters = new BackupClusters();
    const restores = { ...deps, nc, targetReadyTimeoutMs: config.PGFLEET_RESTORE_TARGET_TIMEOUT_MS };
    return { ...deps, progress, durable: config.PGFLEET_BACKUP_DURABLE, clusters, work, scheduler, restores };
  },
  commands: (d) => ({
    RequestBackup: async (data, meta) => {
      const reply = await requestBackup(d, data, meta);
      if (reply.ok) d.work.request(data.clusterId).catch(() => undefined);
      return reply;
    },
    SetBackupSchedule: async (data, meta) => {
      const reply = await setBackupSchedule(d, data, meta);
      if (reply.ok) await d.scheduler.watch(data.clusterId);
      return reply;
    },
    // Answered at once with the operation's id; the restore runs as the operation below.
    RestoreBackup: (data, meta) => requestRestore(d, data, meta),
  }),
  queries: (d) => ({
    BackupProgress: async (request) => d.progress.get(ProgressRequest.parse(request).backupId) ?? null,
  }),
  projections: (d) => [d.clusters.projection()],
  // Restores are operations: runService consumes their OperationRequested, runs one per cluster at a
  // time, and resumes at start the ones a crash interrupted.
  operations: (d) => ({ restore: restoreOperation(d.restores) }),
  operationsDurable: (d) => `${d.durable}-operations`,
  consumers: (d) => [
    {
      durable: d.durable,
      filterSubjects: ['pgfleet.events.backups.>'],
      handle: async (event) => {
        if (event.type === 'BackupScheduleSet') await d.scheduler.watch(event.data.clusterId);
        if (WORK_EVENTS.has(event.type)) await d.work.request(clusterOf(event));
      },
    },
  ],
  // After a crash: interrupted dumps are marked failed and requested ones run before any new work;
  // then every schedule is armed and a daily slot missed while down runs once.
  started: async (d) => {
    await d.work.resume(d.clusters.backedUp());
    await d.scheduler.start(d.clusters.scheduled());
  },
  stop: async (d) => {
    await d.scheduler.stop();
    await d.work.stop();
  },
});
