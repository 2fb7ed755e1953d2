import { jetstream } from '@nats-io/jetstream';
import { querySubject } from '@pgfleet/contracts';
import { busAuthFromEnv, connectBus, consumeEvents, serveCommands } from '@pgfleet/bus';
import { createPostgresEventStore } from '@pgfleet/eventstore';
import { createLogger, gracefulShutdown, KeyedQueue, loadConfig } from '@pgfleet/kit';
import { join, resolve } from 'node:path';
import { requestBackup, restoreCommand, setBackupSchedule } from './commands.js';
import { BackupConfig } from './config.js';
import { createFileBackupStore } from '@pgfleet/backupstore';
import { processBackups } from './workers/processBackups.js';
import { DumpProgress } from './workers/progress.js';
import { backupClusters, resumeBackups } from './workers/resume.js';
import { DailyScheduler } from './workers/schedule.js';

/** The backup service: accepts backup commands, takes dumps, evicts and expires, fires dailies. */
const config = loadConfig(BackupConfig);
const log = createLogger('backup', config.PGFLEET_LOG_LEVEL);
const home = resolve(config.PGFLEET_HOME);
const store = createPostgresEventStore({ connectionString: config.PGFLEET_EVENTSTORE_URL });
const files = createFileBackupStore(resolve(config.PGFLEET_BACKUP_DIR ?? join(home, 'backups')));
const progress = new DumpProgress();
const deps = { store, files, log, progress };
const nc = await connectBus({ servers: config.PGFLEET_NATS_URL, name: 'pgfleet-backup', ...busAuthFromEnv() });

// Dumps of one cluster run one at a time; a request during a run is picked up right after it.
const queue = new KeyedQueue(
  async (clusterId) => { await processBackups(deps, clusterId); },
  (clusterId, e) => log.error({ clusterId, err: e instanceof Error ? e.message : String(e) }, 'backup work failed'),
);
const scheduler = new DailyScheduler(deps);

// After a crash: interrupted dumps are marked failed, requested ones run (before any new work).
const known = await backupClusters(store);
for (const clusterId of known) await resumeBackups(deps, clusterId).catch((e: unknown) => log.error({ clusterId, err: String(e) }, 'resume failed'));

const commands = serveCommands(nc, 'backup', {
  RequestBackup: async (data, meta) => {
    const reply = await requestBackup(deps, data, meta);
    if (reply.ok) void queue.request(data.clusterId);
    return reply;
  },
  SetBackupSchedule: async (data, meta) => {
    const reply = await setBackupSchedule(deps, data, meta);
    if (reply.ok) await scheduler.watch(data.clusterId);
    return reply;
  },
  RestoreBackup: (data) => restoreCommand(deps, data),
}, { logger: log });

// `backup create` polls the bytes written so far by a running dump.
const progressQuery = nc.subscribe(querySubject('backup', 'BackupProgress'), {
  queue: 'backup',
  callback: (err, msg) => {
    if (err) return;
    try {
      const { backupId } = msg.json() as { backupId: string };
      msg.respond(JSON.stringify(progress.get(backupId) ?? null));
    } catch (e) {
      msg.respond(JSON.stringify({ error: e instanceof Error ? e.message : String(e) }));
    }
  },
});

// Requests decided by another replica, evictions and expiries reach us through the relay.
const consumer = await consumeEvents({
  js: jetstream(nc), durable: config.PGFLEET_BACKUP_DURABLE, logger: log, filterSubjects: ['pgfleet.events.backups.>'],
  handler: async (event) => {
    const clusterId = event.streamId.slice('backups-'.length);
    if (event.type === 'BackupScheduleSet') await scheduler.watch(clusterId);
    if (['BackupRequested', 'BackupEvicted', 'BackupExpired'].includes(event.type)) void queue.request(clusterId);
  },
});

await scheduler.start(known);
log.info({ clusters: known.length }, 'backup service started');

const shutdown = gracefulShutdown({ logger: log });
shutdown.register('store', () => store.close());
shutdown.register('nats', () => nc.drain());
shutdown.register('dumps', () => queue.idle());
shutdown.register('schedule', () => scheduler.stop());
shutdown.register('consumer', () => consumer.stop());
shutdown.register('commands', async () => { await commands.stop(); progressQuery.unsubscribe(); });
