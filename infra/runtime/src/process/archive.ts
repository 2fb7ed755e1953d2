import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  backupArgs,
  expireArgs,
  ensureOwnedDir,
  parsePgBackRestInfo,
  pgNodeArgs,
  safeStanza,
  type ArchiveInfo,
  type InitNodeInput,
  type PgBackRestPaths,
} from '@pgfleet/postgres';
import type { NodeInfo, NodeSetup, WalArchive } from '../port.js';
import { pgBackRest } from './pgBackRest.js';
import { restoreToTime } from './restoreToTime.js';

/** What the archive needs of the process runtime. */
export interface ArchiveDeps {
  paths: PgBackRestPaths;
  need(nodeId: string): NodeInfo;
  locked<T>(info: NodeInfo, fn: () => Promise<T>): Promise<T>;
  /** Start a stopped node, under its lock. */
  startUnlocked(info: NodeInfo): Promise<{ pid: number }>;
  /** The node's configuration for `setup` (configOf with the archive's paths). */
  config(info: NodeInfo, setup: NodeSetup): InitNodeInput;
}

/** pgBackRest commands whose log files (`{stanza}-{command}.log`) a removed stanza leaves. */
const COMMANDS = [
  'archive-push',
  'archive-push-async',
  'archive-get',
  'archive-get-async',
  'backup',
  'check',
  'expire',
  'restore',
  'stanza-create',
  'stanza-upgrade',
  'stanza-delete',
  'start',
  'stop',
].join('|');

/** The process driver's WalArchive: pgBackRest run locally as the postgres OS user, its files under the data root. */
export function processArchive(deps: ArchiveDeps): WalArchive {
  const { paths } = deps;
  const leaderArgs = (nodeId: string) => pgNodeArgs(1, deps.need(nodeId));

  const info = async (stanza: string): Promise<ArchiveInfo> => {
    const parsed = parsePgBackRestInfo(await pgBackRest(paths, stanza, 'info', ['--output=json']), stanza);
    const at = parsed.walMax ? archivedAt(join(paths.repo, 'archive', safeStanza(stanza)), parsed.walMax) : undefined;
    return at ? { ...parsed, walMaxArchivedAt: at } : parsed;
  };

  return {
    async createStanza(stanza, leaderNodeId) {
      await pgBackRest(paths, stanza, 'stanza-create', leaderArgs(leaderNodeId));
    },

    async upgradeStanza(stanza, leaderNodeId) {
      await pgBackRest(paths, stanza, 'stanza-upgrade', leaderArgs(leaderNodeId));
    },

    async check(stanza, leaderNodeId) {
      await pgBackRest(paths, stanza, 'check', leaderArgs(leaderNodeId));
    },

    async backup(stanza, { leaderNodeId, standbyNodeId, type = 'full' }) {
      const standby = standbyNodeId ? [...pgNodeArgs(2, deps.need(standbyNodeId)), '--backup-standby'] : [];
      await pgBackRest(paths, stanza, 'backup', [...leaderArgs(leaderNodeId), ...standby, ...backupArgs(type)]);
      const last = (await info(stanza)).backups.at(-1);
      if (!last) throw new Error(`pgbackrest backup of stanza ${stanza} left no backup in the repository`);
      return last;
    },

    info,

    async expire(stanza, { keepDays }) {
      await pgBackRest(paths, stanza, 'expire', expireArgs(keepDays));
    },

    restore: (nodeId, options) => restoreToTime(deps, nodeId, options, info),

    async remove(stanza) {
      safeStanza(stanza);
      // stanza-delete wants the stanza stopped and a pg1-path whose server is not running.
      const none = join(paths.base, 'no-server');
      ensureOwnedDir(none);
      await pgBackRest(paths, stanza, 'stop');
      try {
        await pgBackRest(paths, stanza, 'stanza-delete', ['--force', `--pg1-path=${none}`]);
      } finally {
        await pgBackRest(paths, stanza, 'start');
      }
      for (const dir of [join(paths.repo, 'archive', stanza), join(paths.repo, 'backup', stanza)]) {
        rmSync(dir, { recursive: true, force: true });
      }
      rmSync(join(paths.spool, 'archive', stanza), { recursive: true, force: true });
      const own = new RegExp(`^${stanza}(-(${COMMANDS})\\.log|-(archive|backup)\\.lock|\\.stop)$`);
      for (const dir of [paths.log, paths.lock]) {
        for (const f of readdirSync(dir)) if (own.test(f)) rmSync(join(dir, f), { force: true });
      }
    },
  };
}

/**
 * When WAL segment `wal` reached the repository: the modification time of its file
 * (`{archive dir}/{db-version-id}/{first 16 hex of the segment}/{segment}-{sha1}.{ext}`).
 */
export function archivedAt(archiveDir: string, wal: string): string | undefined {
  try {
    for (const db of readdirSync(archiveDir)) {
      const dir = join(archiveDir, db, wal.slice(0, 16));
      const file = existsSync(dir) ? readdirSync(dir).find((f) => f.startsWith(`${wal}-`)) : undefined;
      if (file) return statSync(join(dir, file)).mtime.toISOString();
    }
  } catch {
    /* no archive directory (yet): no time */
  }
  return undefined;
}
