import type { NatsConnection } from '@nats-io/transport-node';
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { EventEnvelope } from '@pgfleet/contracts';
import { backupRow } from '../http/backupRow.js';
import { downloadBackup } from './backupDownload.js';
import { apiClient, CliError } from './client.js';
import { closeUnused, connectForEvents, followEvents, requestTime, streamSubject } from './followEvents.js';
import { table } from './format.js';
import { NO_WAIT_HELP, runLongAction, startedLine } from './operationWait.js';

type Out = (human: string, json: unknown) => void;

interface BackupRow {
  id: string;
  kind: string;
  status: string;
  size: number | null;
  sha256: string | null;
  started: string | null;
  requested: string | null;
  duration: number | null;
  node: string | null;
  onLeaderReason?: string;
  failedReason?: string;
}
interface BackupShown extends BackupRow {
  clusterId: string;
  progress: { bytes: number; startedAt: number } | null;
}

const enc = encodeURIComponent;

function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}
const seconds = (ms: number | null) => (ms === null ? '' : `${(ms / 1000).toFixed(1)} s`);

/** Events after which a backup is no longer on its way: the wait for it is over. */
const ENDED: ReadonlySet<string> = new Set([
  'BackupCompleted',
  'BackupFailed',
  'BackupEvicted',
  'BackupExpired',
  'BackupDeleted',
]);
/** While events are followed, people see the bytes written so far, read this often. */
const PROGRESS_EVERY_MS = 1000;
/** Without events (NATS out of reach), the backup is read this often. */
const POLL_EVERY_MS = 100;

interface BackupWait {
  name: string;
  clusterId: string;
  backupId: string;
  /** When the request was sent (less a margin): its events are followed from then. */
  since: Date;
  json: boolean;
  /** The NATS connection opened while the request was in flight. */
  connection: Promise<NatsConnection>;
  timeoutMs?: number;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
const pause = (ms: number, signal: AbortSignal) => delay(ms, undefined, { signal }).catch(() => undefined);

/**
 * The backup as `GET .../backups/{id}` shows it once it ended, folded (the contracts' backups view)
 * from its own events; undefined when they do not start with its request (then it is read).
 */
async function endedBackup(clusterId: string, id: string, events: EventEnvelope[]): Promise<BackupShown | undefined> {
  const { findBackup, foldBackups } = await import('@pgfleet/contracts');
  const backup = findBackup(foldBackups(events), id);
  return backup && { clusterId, ...backupRow(backup), progress: null };
}

/**
 * Wait for a backup to end: follow its cluster's backup events from the request on and stop as
 * soon as one says this backup ended; the backup is then the fold of its events, as `backup list`
 * shows it (read once from the API if its request was not among them). People also see its start
 * and, every second, the bytes written so far (stderr); with `--json` nothing is read meanwhile.
 * If NATS cannot be reached the backup is read every 100 ms instead. Completed: the backup; else
 * an error with its status. The NATS connection closes meanwhile: the CLI does not wait for it.
 */
async function waitForBackup(w: BackupWait): Promise<BackupShown> {
  const api = apiClient();
  const { name, backupId: id } = w;
  const timeoutMs = w.timeoutMs ?? 6 * 3600_000;
  const show = () => api.call<BackupShown>('GET', `/v1/clusters/${enc(name)}/backups/${enc(id)}`);
  let last = '';
  const say = (line: string) => {
    if (!w.json && line !== last) process.stderr.write(`  backup ${id}: ${line}\n`);
    last = line;
  };
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), timeoutMs);
  let eventsLost = false;
  /** Read the backup until it ended: the bytes so far for people, its end when there are no events. */
  const poll = async () => {
    for (;;) {
      await pause(eventsLost ? POLL_EVERY_MS : PROGRESS_EVERY_MS, stop.signal);
      if (stop.signal.aborted) return;
      // A lost progress read is only a missed line while the events tell the end.
      const b = await show().catch((error: unknown) => {
        if (eventsLost) throw error;
        return undefined;
      });
      if (!b) continue;
      if (b.status === 'running') say(`running on ${b.node}: ${bytes(b.progress?.bytes ?? 0)} so far`);
      if (b.status !== 'requested' && b.status !== 'running') return;
    }
  };
  const polls = w.json ? [] : [poll()];
  const events: EventEnvelope[] = [];
  let ended: (b: BackupShown | undefined) => void = () => undefined;
  const endedByEvent = new Promise<BackupShown | undefined>((resolve) => {
    ended = resolve;
  });
  const followed = followEvents(api, {
    subjects: [streamSubject(`backups-${w.clusterId}`)],
    since: w.since,
    goesOn: `backup ${id} of ${name} goes on; see it with "pgfleet backup list ${name}"`,
    signal: stop.signal,
    connection: w.connection,
    onEvent: async (e) => {
      if ((e.data as { backupId?: unknown }).backupId !== id) return false;
      events.push(e);
      if (e.type === 'BackupStarted') say(`running on ${e.data.node}`);
      if (!ENDED.has(e.type)) return false;
      ended(await endedBackup(w.clusterId, id, events));
      return true;
    },
  }).then(
    () => undefined,
    (error: unknown) => {
      if (!(error instanceof CliError) || error.code !== 'UNAVAILABLE') throw error;
      eventsLost = true;
      return polls[0] ?? poll();
    },
  );
  // Once the backup ended, what is left of the following is closing the NATS connection.
  followed.catch(() => undefined);
  let b: BackupShown | undefined;
  try {
    b = (await Promise.race([endedByEvent, followed, ...polls])) ?? undefined;
    stop.abort();
    b ??= await show();
  } finally {
    clearTimeout(timer);
    stop.abort();
    await Promise.allSettled(polls);
  }
  say(b.status);
  if (b.status === 'completed') return b;
  if (b.status === 'requested' || b.status === 'running') {
    throw new CliError(`backup ${id} of ${name} is still ${b.status} after ${timeoutMs / 1000} s`, 'TIMEOUT');
  }
  const what = b.status === 'failed' ? `failed: ${b.failedReason ?? 'unknown reason'}` : `is ${b.status}`;
  throw new CliError(`backup ${id} of ${name} ${what}`, 'BACKUP_FAILED', { backupId: id, status: b.status });
}

/** The zod schemas of the restore and schedule bodies, loaded by these commands only. */
async function bodySchemas() {
  const [{ parseWith }, { RestoreBody, ScheduleBody }] = await Promise.all([
    import('@pgfleet/contracts'),
    import('../http/backupSchemas.js'),
  ]);
  return { parseWith, RestoreBody, ScheduleBody };
}

export function registerBackupCommands(program: Command, out: (opts: { json?: boolean }) => Out): void {
  const backup = program
    .command('backup')
    .description('on-demand and daily pg_dump backups: create, list, download, restore, schedule');

  backup
    .command('create <name>')
    .description('take a backup now and wait for it, showing the bytes written so far')
    .option('--no-wait', 'return once the request is accepted')
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: { wait: boolean; json?: boolean }) => {
      type Requested = { clusterId: string; backupId: string; result?: { evicted?: string } };
      const api = apiClient();
      const since = requestTime();
      const requested = api.call<Requested>('POST', `/v1/clusters/${enc(name)}/backups`);
      // NATS is reached while the request is in flight (sent first): the events are followed as soon as it is answered.
      const connection = o.wait ? connectForEvents(api) : undefined;
      const res = await requested.catch((error: unknown) => {
        void closeUnused(connection);
        throw error;
      });
      const gone = res.result?.evicted;
      const evicted = gone ? ` (the oldest on-demand backup ${gone} was evicted to make room)` : '';
      if (!o.json && evicted) process.stderr.write(`  quota reached${evicted}\n`);
      if (!connection) return out(o)(`backup ${res.backupId} of ${name} requested${evicted}`, res);
      const wait = { name, clusterId: res.clusterId, backupId: res.backupId, since, json: Boolean(o.json) };
      const b = await waitForBackup({ ...wait, connection });
      const done = `backup ${b.id} of ${name} completed on ${b.node}: ${bytes(b.size)} in ${seconds(b.duration)}`;
      out(o)(`${done}, sha256 ${b.sha256}${evicted}`, { ...b, ...(gone ? { evicted: gone } : {}) });
    });

  backup
    .command('list <name>')
    .description("a cluster's available backups (completed, running, requested): id, kind, status, size, started")
    .option('--all', 'also the evicted, expired, deleted and failed ones, with their status')
    .option('--json')
    .action(async (name: string, o: { all?: boolean; json?: boolean }) => {
      type Listed = {
        backups: BackupRow[];
        schedule: { at: string; tz: string } | null;
        retainedUntil?: string | null;
      };
      const query = o.all ? '?all=true' : '';
      const r = await apiClient().call<Listed>('GET', `/v1/clusters/${enc(name)}/backups${query}`);
      const rows = r.backups.map((b) => [
        b.id,
        b.kind,
        b.status,
        bytes(b.size),
        b.started ?? b.requested,
        seconds(b.duration),
        b.node,
        b.failedReason ?? '',
      ]);
      const schedule = r.retainedUntil
        ? `the cluster is deleted: its backups are kept until ${r.retainedUntil}`
        : r.schedule
          ? `daily backup at ${r.schedule.at} ${r.schedule.tz}`
          : 'no daily backup schedule';
      const headers = ['ID', 'KIND', 'STATUS', 'SIZE', 'STARTED', 'DURATION', 'NODE', ...(o.all ? ['REASON'] : [])];
      const cells = o.all ? rows : rows.map((row) => row.slice(0, -1));
      out(o)(`${table(headers, cells)}\n${schedule}`, r.backups);
    });

  backup
    .command('download <name> <id>')
    .description('download a backup file and verify its sha256')
    .requiredOption('-o, --output <file>', 'where to write the file')
    .option('--json')
    .action(async (name: string, id: string, o: { output: string; json?: boolean }) => {
      const d = await downloadBackup(`/v1/clusters/${enc(name)}/backups/${enc(id)}/download`, resolve(o.output));
      out(o)(`downloaded backup ${id} to ${d.file} (${bytes(d.size)}); sha256 verified: ${d.sha256}`, d);
    });

  backup
    .command('restore <name> <id>')
    .description('restore a backup in place, or into a new cluster of the same plan with --into')
    .option('--into <newname>', 'create this cluster (same plan and version) and restore into it')
    .option('--no-wait', NO_WAIT_HELP)
    .option('--json')
    .action(async (name: string, id: string, o: { into?: string; wait: boolean; json?: boolean }) => {
      const { parseWith, RestoreBody } = await bodySchemas();
      const body = parseWith(RestoreBody, o.into === undefined ? {} : { into: o.into }, 'restore');
      if (!body.ok) {
        const { message, code, details } = body.rejection;
        throw new CliError(message.replace('into:', '--into:'), code, details);
      }
      if (!o.json) {
        process.stderr.write(
          o.into
            ? `  creating cluster ${o.into} like ${name}, then restoring backup ${id} into it\n`
            : `  restoring backup ${id} into ${name} (in place)\n`,
        );
      }
      const path = `/v1/clusters/${enc(name)}/backups/${enc(id)}/restore`;
      const action = { method: 'POST', path, body: body.value, name, wait: o.wait, json: Boolean(o.json) };
      const { accepted, end } = await runLongAction(apiClient(), action);
      if (accepted.operationId && !end) return out(o)(startedLine(accepted, name), accepted);
      // The operation's result carries what the restore always answered (durationMs...).
      const r = (end ? { ...accepted, ...end.result, steps: end.steps } : accepted) as typeof accepted & {
        into: string;
        durationMs: number;
      };
      const into = String(accepted.into ?? r.into);
      out(o)(`backup ${id} of ${name} restored into ${into} in ${seconds(r.durationMs)}`, r);
    });

  backup
    .command('schedule <name>')
    .description('take a daily backup at HH:MM (in --tz, default UTC)')
    .requiredOption('--at <HH:MM>', 'time of day, 24-hour')
    .option('--tz <zone>', 'IANA time zone, e.g. Europe/Paris', 'UTC')
    .option('--json')
    .action(async (name: string, o: { at: string; tz: string; json?: boolean }) => {
      const { parseWith, ScheduleBody } = await bodySchemas();
      const body = parseWith(ScheduleBody, { at: o.at, tz: o.tz }, 'schedule');
      if (!body.ok) {
        const { message, code, details } = body.rejection;
        throw new CliError(message.replace(/schedule: (at|tz):/, 'schedule: --$1:'), code, details);
      }
      const r = await apiClient().call('PUT', `/v1/clusters/${enc(name)}/backups/schedule`, body.value);
      out(o)(`daily backup of ${name} at ${body.value.at} ${body.value.tz}`, r);
    });
}
