/**
 * pgBackRest, rendered and parsed (pure): where its files go under a data root, its
 * configuration, its command lines, the archive_command / restore_command of a node, its
 * time targets and `info --output=json`. Running it is the runtime's business.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { pgString } from './nodeConfig.js';

/** The pgBackRest binary; PGFLEET_PGBACKREST overrides it. */
export const pgBackRestBin = (env: NodeJS.ProcessEnv = process.env): string =>
  env.PGFLEET_PGBACKREST || '/usr/bin/pgbackrest';

/** Where pgBackRest keeps its files: all under `{data root}/pitr` (the repository may be elsewhere). */
export interface PgBackRestPaths {
  base: string;
  /** Our own configuration ([global] only), never /etc/pgbackrest.conf. */
  config: string;
  /** An empty include directory, so /etc/pgbackrest/conf.d is never read. */
  includeDir: string;
  repo: string;
  lock: string;
  log: string;
  spool: string;
}

export function pgBackRestPaths(root: string, repo?: string): PgBackRestPaths {
  const base = join(root, 'pitr');
  return {
    base,
    config: join(base, 'pgbackrest.conf'),
    includeDir: join(base, 'conf.d'),
    repo: repo ?? join(base, 'repo'),
    lock: join(base, 'lock'),
    log: join(base, 'log'),
    spool: join(base, 'spool'),
  };
}

/**
 * The [global] section: lock, log and spool paths under the data root; WAL pushed and fetched
 * asynchronously (archive-async, 2 processes, through the spool); lz4 compression; backups
 * start with an immediate checkpoint. The repository path is on every command line instead,
 * so a node's archive_command names the repository it writes to.
 */
export function renderPgBackRestConfig(paths: PgBackRestPaths): string {
  const global = {
    'lock-path': paths.lock,
    'log-path': paths.log,
    'spool-path': paths.spool,
    'log-level-console': 'warn',
    'log-level-stderr': 'warn',
    'log-level-file': 'info',
    'archive-async': 'y',
    // How long archive-push/get wait for their asynchronous process: a failing repository makes
    // PostgreSQL retry the segment later instead of holding a shutdown for a minute.
    'archive-timeout': '10',
    'archive-get-queue-max': String(256 * 1024 * 1024),
    'process-max': '2',
    'compress-type': 'lz4',
    'start-fast': 'y',
  };
  const lines = Object.entries(global).map(([k, v]) => `${k}=${v}`);
  return `# written by pgfleet\n[global]\n${lines.join('\n')}\n`;
}

/** The options every pgBackRest command of a stanza takes (`start` and `stop` know no repository). */
export function pgBackRestArgs(paths: PgBackRestPaths, stanza: string, command?: string): string[] {
  return [
    `--config=${paths.config}`,
    `--config-include-path=${paths.includeDir}`,
    ...(command === 'start' || command === 'stop' ? [] : [`--repo1-path=${paths.repo}`]),
    `--stanza=${safeStanza(stanza)}`,
  ];
}

/** A node pgBackRest connects to (its unix socket, as the superuser postgres). */
export interface PgBackRestNode {
  dataDir: string;
  port: number;
  socketDir: string;
}

/** --pg{n}-path/port/socket-path/user of a node. */
export function pgNodeArgs(n: number, node: PgBackRestNode): string[] {
  return [
    `--pg${n}-path=${node.dataDir}`,
    `--pg${n}-port=${node.port}`,
    `--pg${n}-socket-path=${node.socketDir}`,
    `--pg${n}-user=postgres`,
  ];
}

/**
 * Files of a data directory no backup carries: the server's logs, a follower's passfile (the
 * replication password of the source cluster must not reach a fork), and the configuration pgfleet
 * writes itself (a restored directory has none until the restore writes the node's own, so nothing
 * starts it with the source's port, paths or archive_command in between).
 */
const BACKUP_EXCLUDES: readonly string[] = [
  'log/',
  'pgfleet.pgpass',
  'postgresql.conf',
  'pg_hba.conf',
  'pgfleet.cloned',
];

/** `backup`'s options after the pg hosts': the backup type and the files no backup copies. Pure. */
export function backupArgs(type: 'full' | 'diff' | 'incr'): string[] {
  return [`--type=${type}`, ...BACKUP_EXCLUDES.map((e) => `--exclude=${e}`)];
}

/** `expire`'s options keeping the full backups of the last `keepDays` days (a whole number >= 1). Pure. */
export function expireArgs(keepDays: number): string[] {
  if (!Number.isInteger(keepDays) || keepDays < 1)
    throw new Error(`keepDays must be a whole number ≥ 1, not ${keepDays}`);
  return ['--repo1-retention-full-type=time', `--repo1-retention-full=${keepDays}`];
}

/**
 * A file in the data directory of a follower just cloned with pg_basebackup, until its first start
 * ends (`cloneFollower` writes it, the runtime's start removes it). Meanwhile its restore_command
 * answers "not archived": the WAL the clone streamed into pg_wal is replayed from there and the rest
 * streams from the leader. A standby prefers the archive otherwise, and fetching those same segments
 * through pgBackRest took about a second each (a Business creation 2.7 s longer).
 */
export const CLONED_MARKER = 'pgfleet.cloned';

const shellWord = (s: string) => (/^[A-Za-z0-9_./=:%@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** A shell command line of pgBackRest (PostgreSQL runs archive_command and restore_command through /bin/sh). */
export function pgBackRestCommand(args: readonly string[], bin = pgBackRestBin()): string {
  return [bin, ...args].map(shellWord).join(' ');
}

/**
 * The options of a node's own archive-push and archive-get: its data directory, and a spool and
 * lock directory of its own. The asynchronous archive-push/get processes of one stanza take a lock
 * per stanza: nodes of one cluster on one host sharing it would wait on each other (a standby's
 * archive-get for the whole archive-timeout while its leader pushes).
 */
function nodeArchiveArgs(paths: PgBackRestPaths, dataDir: string): string[] {
  const key = createHash('sha256').update(dataDir).digest('hex').slice(0, 16);
  return [`--pg1-path=${dataDir}`, `--spool-path=${join(paths.spool, key)}`, `--lock-path=${join(paths.lock, key)}`];
}

/** The restore_command of a node fetching WAL from `stanza`. */
export function restoreCommand(paths: PgBackRestPaths, stanza: string, dataDir: string): string {
  const args = [...pgBackRestArgs(paths, stanza), ...nodeArchiveArgs(paths, dataDir), 'archive-get', '%f'];
  return `${pgBackRestCommand(args)} "%p"`;
}

/**
 * postgresql.conf settings of a node archiving into `stanza`: archive_mode on (a standby does
 * not archive; whichever node leads does), archive-push through pgBackRest, restore_command
 * archive-get (for pg_rewind and recovery), a segment at least every 60 s.
 */
export function archiveSettings(paths: PgBackRestPaths, stanza: string, dataDir: string): Record<string, string> {
  const push = pgBackRestCommand([
    ...pgBackRestArgs(paths, stanza),
    ...nodeArchiveArgs(paths, dataDir),
    'archive-push',
    '%p',
  ]);
  return {
    archive_mode: 'on',
    archive_command: pgString(push),
    restore_command: pgString(
      `test ! -f ${shellWord(join(dataDir, CLONED_MARKER))} && ${restoreCommand(paths, stanza, dataDir)}`,
    ),
    archive_timeout: '60',
  };
}

/** Stanza names become paths and command-line words. */
export function safeStanza(stanza: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(stanza))
    throw new Error(`stanza "${stanza}" must be 1-64 letters, digits, "_" or "-"`);
  return stanza;
}

const TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?\s*(Z|[+-]\d{2}(?::?\d{2})?)$/i;

/**
 * An ISO 8601 instant with an explicit offset (`2026-11-30T10:15:00.123456+01:00`, `...Z`) as
 * pgBackRest and recovery_target_time both read it: `2026-11-30 09:15:00.123456+00`, the
 * fraction kept to the microsecond. Throws on a time without an offset.
 */
export function pgBackRestTime(iso: string): { target: string; epochMs: number } {
  const m = TIME.exec(iso.trim());
  if (!m) throw new Error(`"${iso}" is not an ISO 8601 time with an offset (e.g. 2026-11-30T10:15:00+01:00 or Z)`);
  const [, y, mo, d, h, mi, s, frac = '', zone] = m as unknown as string[];
  let offsetMin = 0;
  if (zone!.toUpperCase() !== 'Z') {
    const digits = zone!.slice(1).replace(':', '');
    offsetMin = (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || 0)) * (zone![0] === '-' ? -1 : 1);
  }
  const base = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!) - offsetMin * 60_000;
  const utc = new Date(base).toISOString().slice(0, 19).replace('T', ' ');
  return { target: `${utc}${frac.slice(0, 7)}+00`, epochMs: base + Number(`0${frac || '.0'}`) * 1000 };
}

/** One backup of a stanza, as pgBackRest reports it. */
export interface ArchiveBackup {
  label: string;
  type: 'full' | 'diff' | 'incr';
  /** ISO 8601 UTC. */
  startedAt: string;
  /** ISO 8601 UTC: the earliest instant a restore from this backup reaches (its stop, rounded up to the second). */
  stoppedAt: string;
  sizeBytes: number;
  repoSizeBytes: number;
  walStart: string;
  walStop: string;
  timeline: number;
}

/** A stanza's state: `missing` when the repository has no such stanza. */
export interface ArchiveInfo {
  stanza: string;
  status: 'missing' | 'ok' | 'error';
  message?: string;
  /** Oldest first. */
  backups: ArchiveBackup[];
  walMin?: string;
  walMax?: string;
  /** When `walMax` reached the repository (its file's modification time): the latest a restore reaches. */
  walMaxArchivedAt?: string;
  /** The system identifier of the stanza's current database (pgBackRest's `db` history, last entry). */
  systemId?: string;
}

interface InfoJson {
  name: string;
  status: { code: number; message: string };
  backup?: Array<{
    label: string;
    type: 'full' | 'diff' | 'incr';
    timestamp: { start: number; stop: number };
    info: { size: number; repository: { size: number } };
    archive: { start: string; stop: string };
  }>;
  archive?: Array<{ id: string; min: string | null; max: string | null }>;
  db?: Array<{ id: number; 'system-id': string; version: string }>;
}

const iso = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString();

/**
 * `pgbackrest info --output=json --stanza=S`, parsed. Status 1 (no stanza path) and 3 (no stanza
 * data) are `missing`; 0 and 2 (no backup yet) `ok`; anything else `error` with pgBackRest's message.
 */
export function parsePgBackRestInfo(json: string, stanza: string): ArchiveInfo {
  // System identifiers exceed 2^53: keep their digits as strings.
  const entries = JSON.parse(json.replace(/("system-id"\s*:\s*)(\d+)/g, '$1"$2"')) as InfoJson[];
  const entry = entries.find((e) => e.name === stanza);
  if (!entry) return { stanza, status: 'missing', backups: [] };
  const { code, message } = entry.status;
  const status = code === 1 || code === 3 ? 'missing' : code === 0 || code === 2 ? 'ok' : 'error';
  const backups = (entry.backup ?? []).map(
    (b): ArchiveBackup => ({
      label: b.label,
      type: b.type,
      startedAt: iso(b.timestamp.start),
      stoppedAt: iso(b.timestamp.stop + 1),
      sizeBytes: b.info.size,
      repoSizeBytes: b.info.repository.size,
      walStart: b.archive.start,
      walStop: b.archive.stop,
      timeline: Number.parseInt(b.archive.start.slice(0, 8), 16),
    }),
  );
  const archives = (entry.archive ?? []).filter((a) => a.min && a.max);
  // One archive id per PostgreSQL version and system (stanza-upgrade adds one), oldest first.
  const walMin = archives[0]?.min ?? undefined;
  const walMax = archives.at(-1)?.max ?? undefined;
  const db = entry.db?.at(-1);
  return {
    stanza,
    status,
    ...(code === 0 ? {} : { message }),
    backups,
    ...(walMin ? { walMin } : {}),
    ...(walMax ? { walMax } : {}),
    ...(db ? { systemId: db['system-id'] } : {}),
  };
}

/**
 * pgBackRest's reason for a failure: its `ERROR: [code]: message` lines (the first one, its
 * continuation lines joined), else the output's last lines.
 */
export function pgBackRestError(output: string): string {
  const lines = output.trim().split('\n');
  const at = lines.findIndex((l) => /\bERROR: \[\d+\]/.test(l));
  if (at < 0) return lines.slice(-3).join(' | ');
  const rest: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (!/^\s+\S/.test(l)) break;
    rest.push(l);
  }
  const first = lines[at]!.replace(/^.*?ERROR: /, 'ERROR: ');
  return [first, ...rest.map((l) => l.trim())].join(' ');
}
