import type { Command } from 'commander';
import { resolve } from 'node:path';
import { downloadBackup } from './backupDownload.js';
import { apiClient, CliError } from './client.js';
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

/** Each long poll of a backup waits this long (seconds): people see the bytes written so far this often. */
const SHOW_EVERY_S = 1;
/** With `--json` nothing is shown meanwhile: one poll waits this long. */
const JSON_WAIT_S = 30;

interface BackupWait {
  name: string;
  backupId: string;
  json: boolean;
  timeoutMs?: number;
}

/**
 * Wait for a backup to end: `GET .../backups/{id}?wait=S`, which the API answers as soon as the
 * backup ended (it follows the events) or after S seconds with the bytes written so far, shown to
 * people on stderr (with `--json` nothing is shown, and each wait is longer). Completed: the
 * backup; else an error with its status. Ctrl-C leaves the backup running and says so.
 */
async function waitForBackup(w: BackupWait): Promise<BackupShown> {
  const api = apiClient();
  const { name, backupId: id } = w;
  const timeoutMs = w.timeoutMs ?? 6 * 3600_000;
  const waitS = w.json ? JSON_WAIT_S : SHOW_EVERY_S;
  const path = `/v1/clusters/${enc(name)}/backups/${enc(id)}?wait=${waitS}`;
  let last = '';
  const say = (line: string) => {
    if (!w.json && line !== last) process.stderr.write(`  backup ${id}: ${line}\n`);
    last = line;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`${signal === 'SIGINT' ? 'interrupted' : signal}: backup ${id} of ${name} goes on; `);
    process.stderr.write(`see it with "pgfleet backup list ${name}"\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const until = Date.now() + timeoutMs;
  let b: BackupShown;
  try {
    for (;;) {
      b = await api.call<BackupShown>('GET', path);
      if (b.status === 'running') say(`running on ${b.node}: ${bytes(b.progress?.bytes ?? 0)} so far`);
      if (b.status !== 'requested' && b.status !== 'running') break;
      if (Date.now() > until) {
        throw new CliError(`backup ${id} of ${name} is still ${b.status} after ${timeoutMs / 1000} s`, 'TIMEOUT');
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  say(b.status);
  if (b.status === 'completed') return b;
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
      const res = await apiClient().call<Requested>('POST', `/v1/clusters/${enc(name)}/backups`);
      const gone = res.result?.evicted;
      const evicted = gone ? ` (the oldest on-demand backup ${gone} was evicted to make room)` : '';
      if (!o.json && evicted) process.stderr.write(`  quota reached${evicted}\n`);
      if (!o.wait) return out(o)(`backup ${res.backupId} of ${name} requested${evicted}`, res);
      const b = await waitForBackup({ name, backupId: res.backupId, json: Boolean(o.json) });
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
