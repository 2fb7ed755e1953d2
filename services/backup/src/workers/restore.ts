import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HashingCounter, type BackupStore } from '@pgfleet/backupstore';
import { leaderOf, runtimeNodeId } from '@pgfleet/contracts';
import { findBackup } from '../domain/backups.js';
import { APP_DATABASE, APP_ROLE, loadCluster } from './cluster.js';
import type { BackupDeps } from './deps.js';
import { loadBackups } from './record.js';

export type RestoreFailureCode =
  | 'BACKUP_NOT_FOUND'
  | 'BACKUP_NOT_COMPLETED'
  | 'BACKUP_CORRUPT'
  | 'CLUSTER_NOT_READY'
  | 'RESTORE_FAILED';

export type RestoreResult =
  | { ok: true; backupId: string; durationMs: number }
  | { ok: false; code: RestoreFailureCode; message: string };

/** Hash a stored backup and compare with the sha256 recorded when it was taken. */
export async function verifyBackupFile(
  files: BackupStore,
  clusterId: string,
  backupId: string,
  sha256: string,
): Promise<boolean> {
  const counter = new HashingCounter();
  await pipeline(files.open(clusterId, backupId), counter, new Writable({ write: (_c, _e, done) => done() }));
  return counter.digest() === sha256;
}

export interface RestoreTarget {
  /** The runtime's id of the node restored into (its pg_restore, of its major version, reads the dump). */
  runtimeId: string;
  database?: string;
  /** Objects are created as this role (SET ROLE), so the application owns them. */
  role?: string;
}

type RestoreDeps = Pick<BackupDeps, 'store' | 'files' | 'runtime'>;

const failed = (code: RestoreFailureCode, message: string): RestoreResult => ({ ok: false, code, message });

/**
 * Restore a completed backup into a node: check its sha256 first, then stream it into the node's
 * `pg_restore --clean --if-exists --no-owner` (objects owned by the app role). Errors are values.
 */
export async function restoreBackup(
  deps: RestoreDeps,
  clusterId: string,
  backupId: string,
  target: RestoreTarget,
): Promise<RestoreResult> {
  const backup = findBackup(await loadBackups(deps.store, clusterId), backupId);
  if (!backup) return failed('BACKUP_NOT_FOUND', `no backup ${backupId} in cluster ${clusterId}`);
  if (backup.status !== 'completed' || !backup.sha256) {
    return failed('BACKUP_NOT_COMPLETED', `backup ${backupId} is ${backup.status}, not completed`);
  }
  const t0 = Date.now();
  if (!(await verifyBackupFile(deps.files, clusterId, backupId, backup.sha256).catch(() => false))) {
    return failed('BACKUP_CORRUPT', `backup ${backupId} does not match its recorded sha256; it was not restored`);
  }
  const why = await pgRestore(deps, clusterId, backupId, target);
  if (why !== undefined) return failed('RESTORE_FAILED', `backup ${backupId} was not restored: ${why}`);
  return { ok: true, backupId, durationMs: Date.now() - t0 };
}

/** Feed the backup's file to the node's pg_restore; resolves with why it failed, or undefined. */
async function pgRestore(
  deps: RestoreDeps,
  clusterId: string,
  backupId: string,
  target: RestoreTarget,
): Promise<string | undefined> {
  const args = ['--clean', '--if-exists', '--no-owner', `--role=${target.role ?? APP_ROLE}`];
  const database = target.database ?? APP_DATABASE;
  const stdin = deps.files.open(clusterId, backupId);
  const tool = deps.runtime.runTool(target.runtimeId, 'pg_restore', args, { stdin, database });
  // pg_restore writes into the database: its stdout carries nothing, and a failure (of the tool, or
  // of reading the file into it) comes through `done`.
  tool.stdout.on('error', () => undefined).resume();
  try {
    await tool.done;
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    stdin.destroy();
  }
}

/** `backup restore NAME ID [--into OTHER]`: restore into the leader of a cluster (the same one, or another). */
export async function restoreIntoCluster(
  deps: RestoreDeps,
  clusterId: string,
  backupId: string,
  targetClusterId = clusterId,
): Promise<RestoreResult> {
  const target = await loadCluster(deps.store, targetClusterId);
  const leader = leaderOf(target);
  if (target.status !== 'ready' || !leader?.provisioned) {
    return failed('CLUSTER_NOT_READY', `cluster ${target.name ?? targetClusterId} is not ready for a restore`);
  }
  return restoreBackup(deps, clusterId, backupId, { runtimeId: runtimeNodeId(targetClusterId, leader.nodeId) });
}
