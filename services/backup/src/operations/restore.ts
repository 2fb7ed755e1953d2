import { Id, leaderOf, runtimeNodeId, secretRefs } from '@pgfleet/contracts';
import { OperationFailure, type OperationExecutor, type OperationRun } from '@pgfleet/kit';
import { z } from 'zod';
import { findBackup } from '../domain/backups.js';
import { loadCluster, ownerLogin } from '../workers/cluster.js';
import type { BackupDeps } from '../workers/deps.js';
import { loadBackups, recordOutcome } from '../workers/record.js';
import { endLeftoverRestores, pgRestore, verifyBackupFile } from '../workers/restore.js';
import { admitRestore, fenceApp, refence, unfenceApp } from './fence.js';
import { createTargetCluster, waitUntilReady, type NewClusterDeps } from './newCluster.js';
import { RestoreParams } from './restoreParams.js';

export interface RestoreOperationDeps
  extends Pick<BackupDeps, 'store' | 'files' | 'runtime' | 'secrets' | 'log'>,
    NewClusterDeps {
  /** How long `unfence` keeps trying to reach the leader before leaving it to the next attempt (default 60 s). */
  unfenceRetryMs?: number;
}

/** Details recorded by steps and read back when a resumed operation skips them. */
const Created = z.object({ targetClusterId: Id, targetName: z.string() });
const Restored = z.object({ node: z.string(), durationMs: z.number().int().min(0) });

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The `restore` operation: `verify` (the file's sha256), for `--into NEW` `create-target` and
 * `target-ready`, then `fence` (the application's writes), `restore` (pg_restore in one
 * transaction, between BackupRestoreStarted and BackupRestoreCompleted on the backups stream) and
 * `unfence`. A restore that fails records BackupRestoreFailed, unfences, and ends the operation
 * OperationFailed at its step: the target keeps its old data. The result carries what a restore
 * did: `{ backupId, clusterId, targetClusterId, targetName, node, durationMs }`.
 */
export function restoreOperation(deps: RestoreOperationDeps): OperationExecutor {
  return async (run) => {
    const parsed = RestoreParams.safeParse(run.operation.params);
    if (!parsed.success) throw new OperationFailure('verify', `invalid restore params: ${parsed.error.message}`);
    const { backupId, into } = parsed.data;
    const sourceClusterId = parsed.data.sourceClusterId ?? run.clusterId;
    const operationId = run.operation.operationId;

    await run.step('verify', () => verify(deps, sourceClusterId, backupId));

    let targetClusterId = run.clusterId;
    if (into) {
      const create = async () => {
        const source = await loadCluster(deps.store, sourceClusterId);
        return createTargetCluster(deps, operationId, source, into.name);
      };
      targetClusterId = Created.parse(await run.step('create-target', create)).targetClusterId;
      await run.step('target-ready', () => waitUntilReady(deps, targetClusterId, into.name));
    }

    let restored: z.infer<typeof Restored>;
    let fencing = run.done('fence');
    try {
      await run.step('fence', () => fence(deps, targetClusterId, () => (fencing = true)));
      const restore = () => restoreStep(deps, run, sourceClusterId, backupId, targetClusterId);
      restored = Restored.parse(await run.step('restore', restore));
    } catch (error) {
      // The cluster is left no worse than before: the application logs in again, then the operation fails.
      if (error instanceof OperationFailure && fencing)
        await run.step('unfence', () => unfence(deps, run, targetClusterId));
      throw error;
    }
    await run.step('unfence', () => unfence(deps, run, targetClusterId));
    const targetName = (await loadCluster(deps.store, targetClusterId)).name ?? targetClusterId;
    return { backupId, clusterId: sourceClusterId, targetClusterId, targetName, ...restored };
  };
}

/** Step `verify`: the backup is completed and its file still has the sha256 recorded when it was taken. */
async function verify(deps: RestoreOperationDeps, clusterId: string, backupId: string) {
  const backup = findBackup(await loadBackups(deps.store, clusterId), backupId);
  if (!backup) throw new OperationFailure('verify', `no backup ${backupId} in cluster ${clusterId}`);
  if (backup.status !== 'completed' || !backup.sha256) {
    throw new OperationFailure('verify', `backup ${backupId} is ${backup.status}, not completed`);
  }
  if (!(await deps.files.exists(clusterId, backupId))) {
    throw new OperationFailure('verify', `the file of backup ${backupId} is missing; nothing was restored`);
  }
  if (!(await verifyBackupFile(deps.files, clusterId, backupId, backup.sha256).catch(() => false))) {
    const reason = `backup ${backupId} does not match its recorded sha256; nothing was restored`;
    throw new OperationFailure('verify', reason);
  }
  return { sha256: backup.sha256, size: backup.size ?? 0 };
}

/** The cluster's leader as the runtime names it, or the operation fails at `step`. */
async function leaderOfTarget(deps: RestoreOperationDeps, clusterId: string, step: string) {
  const view = await loadCluster(deps.store, clusterId);
  const leader = leaderOf(view);
  if (view.status !== 'ready' || !leader?.provisioned) {
    throw new OperationFailure(
      step,
      `cluster ${view.name ?? clusterId} is ${view.status}, with no leader to restore into`,
    );
  }
  return { node: leader.nodeId, runtimeId: runtimeNodeId(clusterId, leader.nodeId) };
}

/** Step `fence`: the application may not log in, and its sessions are ended (see fence.ts). */
async function fence(deps: RestoreOperationDeps, clusterId: string, touching: () => void) {
  const { node, runtimeId } = await leaderOfTarget(deps, clusterId, 'fence');
  touching();
  try {
    return { node, ...(await fenceApp(deps.runtime, runtimeId)) };
  } catch (error) {
    throw new OperationFailure('fence', `the application's writes could not be fenced on ${node}: ${messageOf(error)}`);
  }
}

/**
 * Step `unfence`, on the leader of the moment: the application logs in again. It must happen
 * before the operation ends, so a leader that cannot be reached is retried for a while and then
 * left to the next attempt (the operation stays running, and is resumed).
 */
async function unfence(deps: RestoreOperationDeps, run: OperationRun, clusterId: string) {
  const deadline = Date.now() + (deps.unfenceRetryMs ?? 60_000);
  for (;;) {
    try {
      const leader = leaderOf(await loadCluster(deps.store, clusterId));
      if (!leader) throw new Error(`cluster ${clusterId} has no leader`);
      // Its own password back too: a restore interrupted while the role took a one-off one left that.
      const password = await deps.secrets.get(secretRefs.app(clusterId));
      await unfenceApp(deps.runtime, runtimeNodeId(clusterId, leader.nodeId), password);
      return { node: leader.nodeId };
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`the application could not be unfenced yet: ${messageOf(error)}`);
      run.log.warn({ err: messageOf(error) }, 'unfence failed; retrying');
      await sleep(1000);
    }
  }
}

/**
 * Step `restore`: BackupRestoreStarted, pg_restore in one transaction into the target's leader
 * (logged in as the database's owner, which the fence lets in for it alone), then
 * BackupRestoreCompleted (or BackupRestoreFailed and the operation fails). Resumed after a crash,
 * it reads what the backups stream says of this operation's restore: completed or failed, it is
 * not run again; started, it was interrupted — the session its pg_restore may have left is
 * ended (its transaction rolls back, unless it had committed) and the restore runs again.
 */
async function restoreStep(
  deps: RestoreOperationDeps,
  run: OperationRun,
  sourceClusterId: string,
  backupId: string,
  targetClusterId: string,
) {
  const { operationId } = run.operation;
  const earlier = (await loadBackups(deps.store, sourceClusterId)).restores.find((r) => r.operationId === operationId);
  if (earlier?.status === 'completed') return { node: earlier.node ?? '', durationMs: earlier.durationMs ?? 0 };
  if (earlier?.status === 'failed') throw new OperationFailure('restore', earlier.failedReason ?? 'the restore failed');
  const { node, runtimeId } = await leaderOfTarget(deps, targetClusterId, 'restore');
  if (earlier?.status === 'running') {
    const ended = await endLeftoverRestores(deps.runtime, runtimeId);
    run.log.warn({ node, sessionsEnded: ended }, 'restore interrupted by a restart; restoring again');
  }
  const record = async (command: Parameters<typeof recordOutcome>[2]) => {
    const reply = await recordOutcome(deps.store, sourceClusterId, command, operationId);
    if (!reply.ok && command.type === 'StartRestore') throw new OperationFailure('restore', reply.message);
    if (!reply.ok) throw new Error(`${command.type} could not be recorded: ${reply.message}`);
  };
  const owner = await ownerLogin(deps.secrets, targetClusterId).catch((error: unknown) => {
    throw new OperationFailure('restore', `nothing was restored: ${messageOf(error)}`);
  });
  await record({ type: 'StartRestore', operationId, backupId, targetClusterId, node });
  const t0 = Date.now();
  // pg_restore runs as the owner, let in with a one-off password; then the role is fenced again with its
  // own (after a crash in between, `unfence` puts it back).
  const login = await admitRestore(deps.runtime, runtimeId);
  const why = await pgRestore(deps, sourceClusterId, backupId, { runtimeId, login });
  await refence(deps.runtime, runtimeId, owner.password);
  if (why !== undefined) {
    const reason = `backup ${backupId} was not restored, the old data is kept: ${why}`;
    await record({ type: 'FailRestore', operationId, reason });
    throw new OperationFailure('restore', reason);
  }
  const durationMs = Date.now() - t0;
  await record({ type: 'CompleteRestore', operationId, durationMs });
  return { node, durationMs };
}
