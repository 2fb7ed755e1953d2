import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HashingCounter, type BackupStore } from '@pgfleet/backupstore';
import { withClient } from '@pgfleet/postgres';
import type { NodeRuntime, ToolLogin } from '@pgfleet/runtime';
import { APP_DATABASE } from './cluster.js';

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
  /** pg_restore logs in as this role, the database's owner (never the superuser): it owns what is made. */
  login: ToolLogin;
}

/** What pg_restore sets as its `application_name`: how a session left by an interrupted restore is found. */
const PG_RESTORE_APPLICATION = 'pg_restore';

/**
 * Feed a backup's file to the node's `pg_restore --single-transaction --clean --if-exists
 * --no-owner`, logged in as the database's owner (`target.login`; a fenced owner must be let in
 * for it first: see the restore operation). In one transaction: the old objects are dropped and
 * the new ones made and filled, and all of it commits or none of it does — a failure, a kill of
 * the tool or of this process leaves the old data as it was. Resolves with why it failed, or undefined.
 */
export async function pgRestore(
  deps: { files: BackupStore; runtime: NodeRuntime },
  clusterId: string,
  backupId: string,
  target: RestoreTarget,
): Promise<string | undefined> {
  const args = ['--single-transaction', '--clean', '--if-exists', '--no-owner'];
  const database = target.database ?? APP_DATABASE;
  const stdin = deps.files.open(clusterId, backupId);
  const tool = deps.runtime.runTool(target.runtimeId, 'pg_restore', args, { stdin, database, login: target.login });
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

/**
 * End the sessions a pg_restore of an earlier, interrupted attempt may still hold on the node
 * (its tool outlives a killed service until it notices its input is gone): terminated inside its
 * transaction, it rolls back. Resolves once none is left. Returns how many were ended.
 */
export async function endLeftoverRestores(
  runtime: NodeRuntime,
  runtimeId: string,
  database = APP_DATABASE,
  timeoutMs = 30_000,
): Promise<number> {
  const endpoint = await runtime.endpoint(runtimeId, 'postgres');
  return withClient(endpoint, async (q) => {
    const leftovers = `SELECT pid FROM pg_stat_activity
      WHERE datname = $1 AND application_name = $2 AND pid <> pg_backend_pid()`;
    const ended = await q.query(`SELECT pg_terminate_backend(pid) FROM (${leftovers}) s`, [
      database,
      PG_RESTORE_APPLICATION,
    ]);
    const deadline = Date.now() + timeoutMs;
    while ((await q.query(leftovers, [database, PG_RESTORE_APPLICATION])).rowCount) {
      if (Date.now() > deadline) throw new Error(`a pg_restore session on ${database} did not end`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return ended.rowCount ?? 0;
  });
}
