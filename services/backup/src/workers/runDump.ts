import { findPlan, runtimeNodeId } from '@pgfleet/contracts';
import type { StoredBackup } from '@pgfleet/backupstore';
import { findBackup } from '../domain/backups.js';
import { APP_DATABASE, chooseDumpNode, loadCluster, probeNode, type NodeProbe } from './cluster.js';
import type { BackupDeps } from './deps.js';
import { gatherChunks } from './gather.js';
import { loadBackups, recordOutcome } from './record.js';

export type DumpOutcome =
  | { status: 'completed'; backupId: string; node: string; size: number; sha256: string; durationMs: number }
  | { status: 'failed'; backupId: string; reason: string }
  /** Not pending any more (another worker took it, or it was already done). */
  | { status: 'skipped'; backupId: string };

export interface RunDumpOptions {
  /** Aborting stops the dump as a crash would: nothing more is recorded (resume finds it). */
  signal?: AbortSignal;
  probe?: NodeProbe;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Take one requested backup: choose the node (a healthy follower on plans that want it, else
 * the leader with the reason), record BackupStarted (with the expected version: only one
 * worker ever gets past this step), stream `pg_dump --format=custom` of the app database
 * (run by the node's runtime) into the backup store while hashing, then record
 * BackupCompleted or BackupFailed.
 */
export async function runDump(
  deps: BackupDeps,
  clusterId: string,
  backupId: string,
  options: RunDumpOptions = {},
): Promise<DumpOutcome> {
  const backups = await loadBackups(deps.store, clusterId);
  if (findBackup(backups, backupId)?.status !== 'requested') return { status: 'skipped', backupId };
  const log = deps.log.child({ clusterId, backupId });

  const fail = async (reason: string): Promise<DumpOutcome> => {
    await deps.files.delete(clusterId, backupId);
    await recordOutcome(deps.store, clusterId, { type: 'FailBackup', backupId, reason });
    log.warn({ reason }, 'backup failed');
    return { status: 'failed', backupId, reason };
  };

  const cluster = await loadCluster(deps.store, clusterId);
  const plan = cluster.plan ? findPlan(cluster.plan) : undefined;
  if (cluster.status !== 'ready' || !plan) return fail(`cluster is ${cluster.status}`);
  const probe = options.probe ?? probeNode(deps.runtime);
  const choice = await chooseDumpNode(clusterId, cluster, plan.backups.onFollower, probe);
  if (!choice) return fail('no node of the cluster is running');
  const { node, onLeaderReason } = choice;

  const started = await recordOutcome(deps.store, clusterId, {
    type: 'StartBackup',
    backupId,
    node: node.nodeId,
    ...(onLeaderReason ? { onLeaderReason } : {}),
  });
  if (!started.ok) return { status: 'skipped', backupId };
  log.info({ node: node.nodeId, onLeaderReason }, 'backup started');

  const t0 = Date.now();
  deps.progress?.begin(backupId, t0);
  try {
    let stored: StoredBackup;
    try {
      stored = await dumpToStore(deps, clusterId, backupId, runtimeNodeId(clusterId, node.nodeId), options.signal);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      return await fail(messageOf(error));
    }
    const durationMs = Date.now() - t0;
    const complete = { type: 'CompleteBackup', backupId, ...stored, durationMs } as const;
    const done = await recordOutcome(deps.store, clusterId, complete);
    if (!done.ok) {
      // Someone marked it failed meanwhile (a resume that thought this worker dead): its file must not stay.
      await deps.files.delete(clusterId, backupId);
      return { status: 'skipped', backupId };
    }
    log.info({ size: stored.size, durationMs }, 'backup completed');
    return { status: 'completed', backupId, node: node.nodeId, ...stored, durationMs };
  } finally {
    deps.progress?.end(backupId);
  }
}

/**
 * `pg_dump --format=custom` of the app database, run by the node's runtime, streamed into the
 * backup store (gathered in 64 kB pieces). Rejects when the tool fails (its stdout errors) or the write fails; aborting
 * kills the tool.
 */
async function dumpToStore(
  deps: BackupDeps,
  clusterId: string,
  backupId: string,
  runtimeId: string,
  signal?: AbortSignal,
): Promise<StoredBackup> {
  const dump = deps.runtime.runTool(runtimeId, 'pg_dump', ['--format=custom'], { database: APP_DATABASE });
  // The exit is awaited after the stream; until then its failure must not be an unhandled rejection.
  const exited = dump.done.then(
    () => undefined,
    (error: unknown) => error ?? new Error('pg_dump failed'),
  );
  const kill = () => dump.kill();
  signal?.addEventListener('abort', kill, { once: true });
  try {
    const stored = await deps.files.put(clusterId, backupId, gatherChunks(dump.stdout), {
      onProgress: (bytes) => deps.progress?.update(backupId, bytes),
      ...(signal ? { signal } : {}),
    });
    const failure = await exited;
    if (failure !== undefined) throw failure;
    return stored;
  } catch (error) {
    dump.kill();
    throw error;
  } finally {
    signal?.removeEventListener('abort', kill);
  }
}
