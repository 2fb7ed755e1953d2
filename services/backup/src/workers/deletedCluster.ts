import { findPlan } from '@pgfleet/contracts';
import { loadCluster } from './cluster.js';
import type { BackupDeps } from './deps.js';
import { processBackups } from './processBackups.js';
import { loadBackups, recordOutcome } from './record.js';

/**
 * The cluster was deleted at `deletedAt`: its daily schedule is removed (BackupScheduleRemoved) and
 * its completed backups are kept for the plan's retention (BackupsRetained {until}), so it can still
 * be restored into a new cluster. Idempotent. Resolves with `until`, if anything is kept.
 */
export async function retainBackups(
  deps: BackupDeps,
  clusterId: string,
  deletedAt: string,
): Promise<string | undefined> {
  const plan = findPlan((await loadCluster(deps.store, clusterId)).plan ?? '');
  if (!plan) return undefined;
  const reply = await recordOutcome(deps.store, clusterId, { type: 'RetainBackups', clusterId, plan, deletedAt });
  if (!reply.ok) throw new Error(`backups of deleted cluster ${clusterId} not retained: ${reply.message}`);
  const until = (await loadBackups(deps.store, clusterId)).retainedUntil;
  if (until) deps.log.info({ clusterId, until }, 'backups of a deleted cluster kept');
  return until;
}

/**
 * Once the retention of a deleted cluster's backups passed (at `now`): each one expires
 * (BackupExpired) and its file is deleted (BackupDeleted). Returns the ids expired now.
 */
export async function expireRetainedBackups(deps: BackupDeps, clusterId: string, now: Date): Promise<string[]> {
  const before = await loadBackups(deps.store, clusterId);
  const until = before.retainedUntil;
  if (until === undefined || Date.parse(until) > now.getTime()) return [];
  const reply = await recordOutcome(deps.store, clusterId, { type: 'ExpireRetainedBackups', now: now.toISOString() });
  if (!reply.ok) throw new Error(`backups of deleted cluster ${clusterId} not expired: ${reply.message}`);
  await processBackups(deps, clusterId); // deletes the files of expired backups (also those a crash left)
  const after = await loadBackups(deps.store, clusterId);
  const completed = new Set(before.backups.filter((b) => b.status === 'completed').map((b) => b.backupId));
  const expired = after.backups.filter((b) => completed.has(b.backupId) && b.status !== 'completed');
  if (expired.length === 0) return [];
  const backupIds = expired.map((b) => b.backupId);
  deps.log.info({ clusterId, backupIds, until }, 'backups of a deleted cluster expired');
  return backupIds;
}
