import { spawn } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { postgresOsUser, toolchain, type NodeConn } from '@pgfleet/postgres';
import { findBackup } from '../domain/backups.js';
import { HashingCounter, type BackupStore } from '@pgfleet/backupstore';
import { APP_DATABASE, APP_ROLE, loadCluster, superuserConn } from './cluster.js';
import type { BackupDeps } from './deps.js';
import { loadBackups } from './record.js';

export type RestoreResult =
  | { ok: true; backupId: string; durationMs: number }
  | { ok: false; code: 'BACKUP_NOT_FOUND' | 'BACKUP_NOT_COMPLETED' | 'BACKUP_CORRUPT' | 'CLUSTER_NOT_READY' | 'RESTORE_FAILED'; message: string };

/** Hash a stored backup and compare with the sha256 recorded when it was taken. */
export async function verifyBackupFile(files: BackupStore, clusterId: string, backupId: string, sha256: string): Promise<boolean> {
  const counter = new HashingCounter();
  await pipeline(files.open(clusterId, backupId), counter, new Writable({ write: (_c, _e, done) => done() }));
  return counter.digest() === sha256;
}

export interface RestoreTarget {
  /** The superuser's connection to the target node (its unix socket). */
  conn: NodeConn;
  /** The target's PostgreSQL major: its pg_restore reads the dump. */
  major: number;
  database?: string;
  /** Objects are created as this role (SET ROLE), so the application owns them. */
  role?: string;
}

/**
 * Restore a completed backup into a node: check its sha256 first, then stream it into
 * `pg_restore --clean --if-exists --no-owner` (objects owned by the app role). Errors are values.
 */
export async function restoreBackup(deps: Pick<BackupDeps, 'store' | 'files'>, clusterId: string, backupId: string, target: RestoreTarget): Promise<RestoreResult> {
  const backup = findBackup(await loadBackups(deps.store, clusterId), backupId);
  if (!backup) return { ok: false, code: 'BACKUP_NOT_FOUND', message: `no backup ${backupId} in cluster ${clusterId}` };
  if (backup.status !== 'completed' || !backup.sha256) return { ok: false, code: 'BACKUP_NOT_COMPLETED', message: `backup ${backupId} is ${backup.status}, not completed` };
  const t0 = Date.now();
  if (!(await verifyBackupFile(deps.files, clusterId, backupId, backup.sha256).catch(() => false))) {
    return { ok: false, code: 'BACKUP_CORRUPT', message: `backup ${backupId} does not match its recorded sha256; it was not restored` };
  }
  const user = postgresOsUser();
  const { conn } = target;
  const args = ['--clean', '--if-exists', '--no-owner', `--role=${target.role ?? APP_ROLE}`, '--dbname', target.database ?? APP_DATABASE,
    '-h', conn.host, '-p', String(conn.port), '-U', conn.user ?? 'postgres', '--no-password'];
  const child = spawn(toolchain(target.major).bin('pg_restore'), args, {
    uid: user.uid, gid: user.gid, env: { ...process.env, HOME: '/tmp', PGSYSCONFDIR: '/nonexistent' }, stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4096)));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? -1));
  });
  const fed = pipeline(deps.files.open(clusterId, backupId), child.stdin!).catch((e: unknown) => e);
  const [code, feedError] = await Promise.all([exited, fed]);
  if (code !== 0 || feedError) {
    const why = stderr.trim().split('\n').slice(-3).join(' | ') || String(feedError ?? `exit ${code}`);
    return { ok: false, code: 'RESTORE_FAILED', message: `pg_restore of backup ${backupId} failed: ${why}` };
  }
  return { ok: true, backupId, durationMs: Date.now() - t0 };
}

/** `backup restore NAME ID [--into OTHER]`: restore into the leader of a cluster (the same one, or another). */
export async function restoreIntoCluster(deps: Pick<BackupDeps, 'store' | 'files'>, clusterId: string, backupId: string, targetClusterId = clusterId): Promise<RestoreResult> {
  const target = await loadCluster(deps.store, targetClusterId);
  const leader = target.nodes.find((n) => n.nodeId === target.leader);
  if (target.status !== 'ready' || !leader?.port || !leader.dataDir || !target.version) {
    return { ok: false, code: 'CLUSTER_NOT_READY', message: `cluster ${target.name ?? targetClusterId} is not ready for a restore` };
  }
  return restoreBackup(deps, clusterId, backupId, { conn: superuserConn(leader), major: target.version });
}
