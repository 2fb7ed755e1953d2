import { join, resolve } from 'node:path';
import { createFileBackupStore } from '@pgfleet/backupstore';
import type { EventEnvelope } from '@pgfleet/contracts';
import { runService } from '@pgfleet/kit';
import { openSecretStore } from '@pgfleet/postgres';
import { createNodeRuntime } from '@pgfleet/runtime';
import { z } from 'zod';
import { requestBackup, setBackupSchedule } from './commands.js';
import { BackupConfig } from './config.js';
import { requestRestore } from './operations/requestRestore.js';
import { restoreOperation } from './operations/restore.js';
import { BackupClusters } from './projections/backupClusters.js';
import { BackupWork } from './workers/backupWork.js';
import type { BackupDeps } from './workers/deps.js';
import { DumpProgress } from './workers/progress.js';
import { retainBackups } from './workers/deletedCluster.js';
import { applyPlanQuota } from './workers/planQuota.js';
import { DailyScheduler } from './workers/schedule.js';

/** `pgfleet.queries.backup.BackupProgress {backupId}`: bytes so far of a running dump, or null. */
const ProgressRequest = z.object({ backupId: z.string().min(1) });
/** Events (decided by any replica) after which a cluster's backups need work. */
const WORK_EVENTS: ReadonlySet<string> = new Set(['BackupRequested', 'BackupEvicted', 'BackupExpired']);
const clusterOf = (event: EventEnvelope) => event.streamId.slice(event.streamId.indexOf('-') + 1);

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
    const runtime = createNodeRuntime({ home });
    const deps: BackupDeps = { store, files, runtime, secrets: openSecretStore(home), log, progress };
    const work = new BackupWork(deps);
    const scheduler = new DailyScheduler(deps, undefined, (clusterId) => work.request(clusterId));
    const clusters = new BackupClusters();
    const restores = { ...deps, nc, targetReadyTimeoutMs: config.PGFLEET_RESTORE_TARGET_TIMEOUT_MS };
    const durable = config.PGFLEET_BACKUP_DURABLE;
    const retentionCheckMs = config.PGFLEET_BACKUP_RETENTION_CHECK_SECONDS * 1000;
    const retention = { timer: undefined as NodeJS.Timeout | undefined };
    return { ...deps, progress, durable, clusters, work, scheduler, restores, retentionCheckMs, retention };
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
    {
      // A deleted cluster's schedule goes at once; its backups are kept for the plan's retention.
      durable: `${d.durable}-deleted`,
      filterSubjects: ['pgfleet.events.cluster.*.ClusterDeleted'],
      handle: async (event) => {
        const clusterId = clusterOf(event);
        await d.scheduler.unwatch(clusterId);
        await retainBackups(d, clusterId, event.occurredAt);
      },
    },
    {
      // A plan that keeps fewer manual backups than the cluster has: the oldest are evicted now.
      durable: `${d.durable}-plan`,
      filterSubjects: ['pgfleet.events.cluster.*.ClusterPlanChanged'],
      handle: async (event) => {
        const clusterId = clusterOf(event);
        if ((await applyPlanQuota(d, clusterId, event)).length > 0) await d.work.request(clusterId);
      },
    },
  ],
  // After a crash: interrupted dumps are marked failed and requested ones run before any new work;
  // then every schedule is armed and a daily slot missed while down runs once.
  started: async (d) => {
    await d.work.resume(d.clusters.backedUp());
    await d.scheduler.start(d.clusters.scheduled());
    // Backups kept after a delete: a work run expires them once their retention passed.
    const check = () => {
      for (const clusterId of d.clusters.retained()) void d.work.request(clusterId).catch(() => undefined);
    };
    check();
    d.retention.timer = setInterval(check, d.retentionCheckMs);
  },
  stop: async (d) => {
    clearInterval(d.retention.timer);
    await d.scheduler.stop();
    await d.work.stop();
  },
});
