import type { Command } from 'commander';
import { setTimeout as delay } from 'node:timers/promises';
import type { PitrStatus } from '../http/pitrStatus.js';
import { apiClient, CliError } from './client.js';
import { table } from './format.js';
import { NO_WAIT_HELP } from './operationWait.js';

type Out = (opts: { json?: boolean }) => (human: string, json: unknown) => void;
type Row = PitrStatus['fullBackups'][number];

const enc = encodeURIComponent;
const POLL_MS = 1000;

function bytes(n: number | null): string {
  if (n === null) return '';
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
const lag = (s: number | null) => (s === null ? 'unknown' : `${s} s`);

/** `pitr status` for people: the window first, then archiving, then the full backups. */
function describe(s: PitrStatus): string {
  const lines: string[] = [];
  if (s.removed) return `${s.name}: the PITR archive of this deleted cluster was removed`;
  const w = s.window;
  lines.push(
    w ? `recoverable window: ${w.earliest} .. ${w.latest}` : 'recoverable window: none yet (no full backup completed)',
  );
  if (s.retainedUntil) lines.push(`cluster deleted: its PITR archive is kept until ${s.retainedUntil}`);
  const a = s.archiving;
  if (!a.enabled) lines.push('WAL archiving: not enabled yet (it starts once the cluster is ready)');
  else {
    const health = a.health === 'failed' ? `FAILED: ${a.reason ?? ''}` : a.health;
    const stale = a.live ? '' : ' (last recorded; the pitr service did not answer)';
    lines.push(
      `WAL archiving: ${health}, lag ${lag(a.lagSeconds)}, last archived ${a.lastArchivedAt ?? 'never'}${stale}`,
    );
  }
  const last = s.lastFullBackup;
  const facts = last ? `${bytes(last.size)}, ${seconds(last.duration)}, on ${last.node}` : '';
  lines.push(last ? `last full backup: ${last.id} ended ${last.stopAt} (${facts})` : 'last full backup: none');
  if (s.runningFullBackup) lines.push(`full backup ${s.runningFullBackup.status}: ${s.runningFullBackup.id}`);
  if (s.nextFullBackupAt) lines.push(`next full backup: ${s.nextFullBackupAt} (weekly)`);
  if (s.fullBackups.length > 0) {
    const rows = s.fullBackups.map((b: Row) => [b.id, b.kind, b.label, b.stopAt, bytes(b.size), b.node]);
    lines.push(table(['ID', 'KIND', 'LABEL', 'ENDED', 'SIZE', 'NODE'], rows));
  }
  return lines.join('\n');
}

/** Follow `pitr status` until the backup is neither requested nor running; its row once done. */
async function waitForFullBackup(path: string, backupId: string): Promise<Row> {
  for (;;) {
    const s = await apiClient().call<PitrStatus>('GET', path);
    const done = s.fullBackups.find((b) => b.id === backupId);
    if (done) return done;
    const failed = s.recentFailures.find((b) => b.id === backupId);
    if (failed)
      throw new CliError(`full backup ${backupId} failed: ${failed.failedReason ?? 'unknown reason'}`, 'BACKUP_FAILED');
    await delay(POLL_MS);
  }
}

/**
 * `pgfleet pitr status NAME` (the recoverable window, archiving lag, last and next full backup) and
 * `pgfleet pitr backup NAME` (a full backup now, waited for unless --no-wait). Makes the `pitr`
 * command; `pitr restore` is added to it by its own module.
 */
export function registerPitrCommands(program: Command, out: Out): void {
  const pitr =
    program.commands.find((c) => c.name() === 'pitr') ??
    program.command('pitr').description('point-in-time recovery: status, full backups, restore to a time');

  pitr
    .command('status <name>')
    .description('the recoverable window [earliest, latest], the archiving lag, the last and next full backups')
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: { json?: boolean }) => {
      const s = await apiClient().call<PitrStatus>('GET', `/v1/clusters/${enc(name)}/pitr`);
      out(o)(describe(s), s);
    });

  pitr
    .command('backup <name>')
    .description('take a full backup now (pgBackRest; from a follower on Business)')
    .option('--no-wait', NO_WAIT_HELP)
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: { wait: boolean; json?: boolean }) => {
      const path = `/v1/clusters/${enc(name)}/pitr`;
      const res = await apiClient().call<{ backupId: string }>('POST', `${path}/backup`);
      if (!o.wait) return out(o)(`full backup ${res.backupId} of ${name} requested`, res);
      if (!o.json) process.stderr.write(`  full backup ${res.backupId} of ${name} requested; waiting for it\n`);
      const b = await waitForFullBackup(path, res.backupId);
      const done = `full backup ${b.id} of ${name} completed on ${b.node}: ${bytes(b.size)} in ${seconds(b.duration)}`;
      out(o)(done, b);
    });
}
