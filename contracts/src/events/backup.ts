import { z } from 'zod';
import { Id } from '../names.js';

export const BackupKind = z.enum(['manual', 'daily']);
export type BackupKind = z.infer<typeof BackupKind>;

export const BackupQuota = z.enum(['backups.manual.daily', 'backups.manual.total']);

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
  QuotaExceeded: z.object({
    clusterId: Id,
    quota: BackupQuota,
    limit: z.number().int().min(0),
    used: z.number().int().min(0),
  }),
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
