import { findPlan } from '@pgfleet/contracts';
import { toolchain } from '@pgfleet/postgres';
import { findBackup } from '../domain/backups.js';
import { APP_DATABASE, chooseDumpNode, loadCluster, probeNode, superuserConn, type NodeProbe } from './cluster.js';
import type { BackupDeps } from './deps.js';
import { spawnToolSource } from './pgDumpSource.js';
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

/**
 * Take one requested backup: choose the node (a healthy follower on plans that want it, else
 * the leader with the reason), record BackupStarted (with the expected version: only one
 * worker ever gets past this step), stream `pg_dump --format=custom` of the app database into
 * the backup store while hashing, then record BackupCompleted or BackupFailed.
 */
export async function runDump(deps: BackupDeps, clusterId: string, backupId: string, options: RunDumpOptions = {}): Promise<DumpOutcome> {
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
  if (cluster.status !== 'ready' || !plan || !cluster.version) return fail(`cluster is ${cluster.status}`);
  const choice = await chooseDumpNode(cluster, plan.backups.onFollower, options.probe ?? probeNode);
  if (!choice) return fail('no node of the cluster is running');

  const started = await recordOutcome(deps.store, clusterId, { type: 'StartBackup', backupId, node: choice.node.nodeId, ...(choice.onLeaderReason ? { onLeaderReason: choice.onLeaderReason } : {}) });
  if (!started.ok) return { status: 'skipped', backupId };
  log.info({ node: choice.node.nodeId, onLeaderReason: choice.onLeaderReason }, 'backup started');

  const t0 = Date.now();
  deps.progress?.begin(backupId, t0);
  try {
    const dump = spawnToolSource(toolchain(cluster.version).bin('pg_dump'), ['--format=custom', '--dbname', APP_DATABASE], superuserConn(choice.node));
    options.signal?.addEventListener('abort', () => dump.kill(), { once: true });
    let stored;
    try {
      stored = await deps.files.put(clusterId, backupId, dump.stream, {
        onProgress: (bytes) => deps.progress?.update(backupId, bytes),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      return await fail(error instanceof Error ? error.message : String(error));
    }
    const durationMs = Date.now() - t0;
    const done = await recordOutcome(deps.store, clusterId, { type: 'CompleteBackup', backupId, ...stored, durationMs });
    if (!done.ok) {
      // Someone marked it failed meanwhile (a resume that thought this worker dead): its file must not stay.
      await deps.files.delete(clusterId, backupId);
      return { status: 'skipped', backupId };
    }
    log.info({ size: stored.size, durationMs }, 'backup completed');
    return { status: 'completed', backupId, node: choice.node.nodeId, ...stored, durationMs };
  } finally {
    deps.progress?.end(backupId);
  }
}
