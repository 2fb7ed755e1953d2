import { findPlan } from '@pgfleet/contracts';
import { archivedLeader, chooseBackupNode, loadCluster } from './cluster.js';
import type { PitrDeps } from './deps.js';
import { loadPitr, recordPitr } from './record.js';

export type FullBackupOutcome =
  | { backupId: string; status: 'completed'; label: string; size: number; durationMs: number }
  | { backupId: string; status: 'failed'; reason: string }
  | { backupId: string; status: 'skipped' };

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Take one requested full backup: choose the node (a running standby on Business, else the
 * leader with the reason), record PitrBackupStarted (with the expected version: never twice),
 * run `pgbackrest backup --type=full`, record PitrBackupCompleted with pgBackRest's label, stop
 * time, repository size and duration, or PitrBackupFailed; then apply the plan's retention.
 */
export async function runFullBackup(deps: PitrDeps, clusterId: string, backupId: string): Promise<FullBackupOutcome> {
  const view = await loadCluster(deps.store, clusterId);
  const plan = findPlan(view.plan ?? '');
  const target = archivedLeader(clusterId, view);
  const fail = async (reason: string): Promise<FullBackupOutcome> => {
    await recordPitr(deps.store, clusterId, { type: 'FailPitrBackup', backupId, reason });
    deps.log.warn({ clusterId, backupId, reason }, 'full backup failed');
    return { backupId, status: 'failed', reason };
  };
  if (!plan || !target) return fail(`cluster ${view.name ?? clusterId} is ${view.status}, without a leader to back up`);
  const choice = await chooseBackupNode(clusterId, view, plan.backups.onFollower, deps.runtime);
  if (!choice) return fail(`cluster ${view.name ?? clusterId} has no leader`);
  const why = choice.onLeaderReason ? { onLeaderReason: choice.onLeaderReason } : {};
  const start = { type: 'StartPitrBackup', backupId, node: choice.node.nodeId, ...why } as const;
  if (!(await recordPitr(deps.store, clusterId, start)).ok) return { backupId, status: 'skipped' };
  const began = Date.now();
  let outcome: FullBackupOutcome;
  try {
    const standby = choice.standby ? { standbyNodeId: choice.standby } : {};
    const b = await deps.runtime.archive.backup(target.stanza, { leaderNodeId: target.leader, ...standby });
    const durationMs = Date.now() - began;
    const done = { label: b.label, startedAt: b.startedAt, stopAt: b.stoppedAt, size: b.repoSizeBytes, durationMs };
    await recordPitr(deps.store, clusterId, { type: 'CompletePitrBackup', backupId, ...done });
    deps.log.info({ clusterId, backupId, label: b.label, size: b.repoSizeBytes, durationMs }, 'full backup completed');
    outcome = { backupId, status: 'completed', label: b.label, size: b.repoSizeBytes, durationMs };
  } catch (error) {
    return fail(messageOf(error));
  }
  await applyRetention(deps, clusterId, target.stanza, plan.pitrDays);
  return outcome;
}

/**
 * Retention: pgBackRest expires what the plan's window (`keepDays`) no longer needs (time-based:
 * it keeps the newest full backup older than the window, so every instant of it stays
 * restorable); the backups gone from its info are recorded PitrBackupsExpired.
 */
export async function applyRetention(deps: PitrDeps, clusterId: string, stanza: string, keepDays: number) {
  await deps.runtime.archive.expire(stanza, { keepDays });
  const info = await deps.runtime.archive.info(stanza);
  if (info.status !== 'ok') throw new Error(`stanza ${stanza} after expire: ${info.message ?? info.status}`);
  const keptLabels = info.backups.map((b) => b.label);
  await recordPitr(deps.store, clusterId, { type: 'RecordExpiredBackups', keptLabels, keepDays });
}

/** Every requested full backup of the cluster, oldest first. */
export async function processFullBackups(deps: PitrDeps, clusterId: string): Promise<FullBackupOutcome[]> {
  const state = await loadPitr(deps.store, clusterId);
  const outcomes: FullBackupOutcome[] = [];
  for (const b of state.backups.filter((x) => x.status === 'requested')) {
    outcomes.push(await runFullBackup(deps, clusterId, b.backupId));
  }
  return outcomes;
}
