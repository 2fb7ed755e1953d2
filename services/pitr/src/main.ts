import { resolve } from 'node:path';
import type { EventEnvelope } from '@pgfleet/contracts';
import { runService } from '@pgfleet/kit';
import { createNodeRuntime } from '@pgfleet/runtime';
import { requestPitrBackup } from './commands.js';
import { PitrConfig } from './config.js';
import { pitrRestore } from './operations/index.js';
import { PitrClusters } from './projections/pitrClusters.js';
import { retainArchive } from './workers/deletedArchive.js';
import type { PitrDeps } from './workers/deps.js';
import { ArchiverMonitor } from './workers/monitor.js';
import { PitrWork } from './workers/pitrWork.js';
import { WeeklyScheduler } from './workers/schedule.js';
import { archiverStatus } from './workers/status.js';

const clusterOf = (event: EventEnvelope) => event.streamId.slice(event.streamId.indexOf('-') + 1);

/**
 * The pitr service: pgBackRest stanzas and continuous WAL archiving of Starter and Business
 * clusters, weekly full backups, the archiver's health, deleted clusters' archives kept for the
 * plan's window, the recoverable window, restore to a time.
 */
await runService({
  name: 'pitr',
  config: PitrConfig,
  setup: ({ config, log, home, store, nc }) => {
    const repo = config.PGFLEET_PITR_REPO ? { archiveRepo: resolve(config.PGFLEET_PITR_REPO) } : {};
    const runtime = createNodeRuntime({ home, ...repo });
    const deps: PitrDeps = { store, runtime, log, clock: () => new Date() };
    const clusters = new PitrClusters();
    const work = new PitrWork(deps);
    // Long work (a full backup) is never awaited by a handler: it is in the stream and the queue takes it.
    const kick = (clusterId: string) => void work.request(clusterId).catch(() => undefined);
    const scheduler = new WeeklyScheduler(deps, clusters, async (clusterId) => kick(clusterId));
    const monitor = new ArchiverMonitor(deps, clusters, {
      intervalMs: config.PGFLEET_PITR_MONITOR_SECONDS * 1000,
      lagThresholdSeconds: config.PGFLEET_PITR_LAG_THRESHOLD_SECONDS,
      request: (clusterId) => work.request(clusterId),
    });
    const restore = pitrRestore({ store, runtime, nc, home });
    return { ...deps, config, nc, clusters, work, kick, scheduler, monitor, restore };
  },
  commands: (d) => ({
    RequestPitrBackup: async (data, meta) => {
      const reply = await requestPitrBackup(d, data, meta);
      if (reply.ok) d.kick(data.clusterId);
      return reply;
    },
    RestoreToTime: (data, meta) => d.restore.request(data, meta),
  }),
  queries: (d) => ({
    PitrArchiver: (request) =>
      archiverStatus(d, request, {
        lagThresholdSeconds: d.config.PGFLEET_PITR_LAG_THRESHOLD_SECONDS,
        nextRun: (clusterId, now) => d.scheduler.nextRun(clusterId, now),
      }),
  }),
  projections: (d) => [d.clusters.projection()],
  // Restore to a time is an operation: runService consumes its OperationRequested, runs one per
  // cluster at a time and resumes at start the ones a crash interrupted.
  operations: (d) => ({ 'pitr-restore': d.restore.executor }),
  operationsDurable: (d) => `${d.config.PGFLEET_PITR_DURABLE}-operations`,
  // One filter subject per consumer (NATS servers before 2.10 take no more).
  consumers: (d) => [
    {
      durable: d.config.PGFLEET_PITR_DURABLE,
      filterSubjects: ['pgfleet.events.cluster.>'],
      handle: async (event) => {
        const clusterId = clusterOf(event);
        // Ready, or on a plan with PITR now (Sandbox -> Starter): archiving is enabled (a no-op when it is).
        if (event.type === 'ClusterReady' || event.type === 'ClusterPlanChanged') d.kick(clusterId);
        if (event.type === 'ClusterDeleted') {
          await d.scheduler.unwatch(clusterId);
          await retainArchive(d, clusterId, event.occurredAt);
        }
      },
    },
    {
      durable: `${d.config.PGFLEET_PITR_DURABLE}-pitr`,
      filterSubjects: ['pgfleet.events.pitr.>'],
      handle: async (event) => {
        const clusterId = clusterOf(event);
        if (event.type === 'ContinuousBackupEnabled') await d.scheduler.watch(clusterId);
        if (event.type === 'PitrBackupRequested') d.kick(clusterId);
      },
    },
    {
      durable: `${d.config.PGFLEET_PITR_DURABLE}-schedule`,
      filterSubjects: ['pgfleet.events.backups.*.BackupScheduleSet'],
      handle: async (event) => {
        const clusterId = clusterOf(event);
        if (d.clusters.archiving().includes(clusterId)) await d.scheduler.watch(clusterId);
      },
    },
  ],
  // After a crash: every cluster's first run fails (and asks again for) a full backup a crash
  // interrupted, enables archiving where it is missing and takes the requested backups; then every
  // weekly task is armed and a slot missed while down runs once; then the archiver is watched.
  started: async (d) => {
    void d.work.resume(d.clusters.all());
    await d.scheduler.start();
    d.monitor.start();
  },
  stop: async (d) => {
    await d.monitor.stop();
    await d.scheduler.stop();
    await d.work.stop();
  },
});
