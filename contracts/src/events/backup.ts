import { z } from 'zod';
import { Id } from '../names.js';
import { DiskQuotaExceeded } from './disk.js';

export const BackupKind = z.enum(['manual', 'daily']);
export type BackupKind = z.infer<typeof BackupKind>;

export const BackupQuota = z.enum(['backups.manual.daily', 'backups.manual.total']);

/** `QuotaExceeded` of a backup quota, on `backups-{clusterId}`: `used` backups of a `limit`. */
export const BackupQuotaExceeded = z.object({
  clusterId: Id,
  quota: BackupQuota,
  limit: z.number().int().min(0),
  used: z.number().int().min(0),
});
export type BackupQuotaExceeded = z.infer<typeof BackupQuotaExceeded>;

const HourMinute = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24-hour)');

/** Events of the `backups-{clusterId}` stream. */
export const backupEvents = {
  BackupRequested: z.object({
    backupId: Id,
    clusterId: Id,
    kind: BackupKind,
    /** When the request was decided (ISO 8601): quotas per UTC day and retention count from it. */
    requestedAt: z.string().datetime().optional(),
  }),
  /**
   * A quota was reached: a backup quota on `backups-{clusterId}` (`quota`, counts of backups), or
   * the disk quota on `disk-{clusterId}` (`kind: 'disk'`, bytes; see disk.ts). One type name, two shapes.
   */
  QuotaExceeded: z.union([BackupQuotaExceeded, DiskQuotaExceeded]),
  BackupRejected: z.object({ clusterId: Id, code: z.string(), reason: z.string() }),
  BackupEvicted: z.object({ backupId: Id, clusterId: Id }),
  BackupStarted: z.object({ backupId: Id, node: Id, onLeaderReason: z.string().optional() }),
  BackupCompleted: z.object({
    backupId: Id,
    size: z.number().int().min(0),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex sha256'),
    durationMs: z.number().int().min(0),
  }),
  BackupFailed: z.object({ backupId: Id, reason: z.string() }),
  BackupDeleted: z.object({ backupId: Id }),
  BackupExpired: z.object({ backupId: Id }),
  BackupScheduleSet: z.object({ clusterId: Id, at: HourMinute, tz: z.string().min(1) }),
  /** The cluster was deleted: its daily schedule went with it (no daily backup is taken any more). */
  BackupScheduleRemoved: z.object({ clusterId: Id }),
  /**
   * The cluster was deleted: its completed backups (`backupIds`) are kept until `until` (the plan's
   * daily retention, counted from the delete) so it can still be restored into a new cluster; then
   * each one expires (BackupExpired) and its file is deleted (BackupDeleted).
   */
  BackupsRetained: z.object({ clusterId: Id, until: z.iso.datetime({ offset: true }), backupIds: z.array(Id) }),
  /** A restore of this backup began (operation `operationId`, into the leader of `targetClusterId`). */
  BackupRestoreStarted: z.object({ backupId: Id, operationId: Id, targetClusterId: Id, node: Id }),
  BackupRestoreCompleted: z.object({
    backupId: Id,
    operationId: Id,
    targetClusterId: Id,
    durationMs: z.number().int().min(0),
  }),
  /** The restore failed; with `--single-transaction` the target kept its old data. */
  BackupRestoreFailed: z.object({ backupId: Id, operationId: Id, targetClusterId: Id, reason: z.string() }),
} as const;

export { HourMinute };
