import { isKept, type BackupEvent, type BackupsState, type Plan } from '@pgfleet/contracts';

/** A backup a restore is reading right now: it is neither evicted nor expired until the restore ends. */
export const isBeingRestored = (state: BackupsState, backupId: string): boolean =>
  state.restores.some((r) => r.backupId === backupId && r.status === 'running');

/** What the rolling manual quota asks for, with `room` more backups to come. */
interface ManualQuotaEvictions {
  /** `QuotaExceeded {quota: 'backups.manual.total'}` when the kept manual backups and `room` exceed the limit. */
  exceeded?: BackupEvent;
  /** The oldest completed manual backups that no restore reads, evicted to make the room (oldest first). */
  evicted: BackupEvent[];
  /** Whether the evictions make the room; false when too few completed backups can go yet. */
  fits: boolean;
}

/**
 * The rolling manual quota of `limit` backups, for `room` more (1 for a new backup, 0 for a plan
 * that keeps fewer than the cluster has): manual backups that hold or will hold a file count; the
 * oldest completed ones go first (requested or running ones cannot, nor one a restore reads). The
 * one rule a new backup and a plan change share. Pure.
 */
export function manualQuotaEvictions(state: BackupsState, limit: number, room: number): ManualQuotaEvictions {
  const kept = state.backups.filter((b) => b.kind === 'manual' && isKept(b));
  const over = kept.length + room - limit;
  if (over <= 0) return { evicted: [], fits: true };
  const clusterId = state.clusterId ?? '';
  const exceeded: BackupEvent = {
    type: 'QuotaExceeded',
    data: { clusterId, quota: 'backups.manual.total', limit, used: kept.length },
  };
  const candidates = kept.filter((b) => b.status === 'completed' && !isBeingRestored(state, b.backupId));
  const evicted = candidates
    .slice(0, over)
    .map((b): BackupEvent => ({ type: 'BackupEvicted', data: { backupId: b.backupId, clusterId } }));
  return { exceeded, evicted, fits: evicted.length === over };
}

/** The cluster is now on `plan` (after its ClusterPlanChanged). */
export interface ApplyPlanQuotaCommand {
  type: 'ApplyPlanQuota';
  clusterId: string;
  plan: Plan;
}

/**
 * The cluster moved to `plan` (ClusterPlanChanged): when it keeps fewer manual backups than the
 * cluster has, `QuotaExceeded` then `BackupEvicted` for the oldest completed ones, down to the new
 * limit, as when a new backup exceeds the quota. Evictions that cannot happen yet (the backup is
 * still being taken, or restored) are left to the next backup request, which evicts down to the
 * quota. Nothing when the cluster is within the new quota, so handling the same change twice (or a
 * change the stream already reflects) records nothing more. Pure.
 */
export function decidePlanQuota(cmd: ApplyPlanQuotaCommand, state: BackupsState): BackupEvent[] {
  const limit = cmd.plan.backups.manualTotal;
  const { exceeded, evicted } = manualQuotaEvictions({ ...state, clusterId: cmd.clusterId }, limit, 0);
  if (!exceeded || evicted.length === 0) return [];
  return [exceeded, ...evicted];
}
