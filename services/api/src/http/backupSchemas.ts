import { z } from 'zod';
import { ClusterName, HourMinute, Id } from '@pgfleet/contracts';

/** Bodies and parameters of the backup routes; the OpenAPI document is generated from these. */
export const BackupParams = z.object({ name: z.string(), id: Id });

/** `?all=true`: also the evicted, expired, deleted and failed backups (default: the available ones). */
export const BackupListQuery = z.object({ all: z.enum(['true', 'false']).optional() });

/**
 * `?wait=SECONDS`: answer once the backup ended (completed, failed...) or after that many seconds,
 * whichever comes first — a long poll fed by the API's event subscription.
 */
export const BackupShowQuery = z.object({ wait: z.coerce.number().int().min(0).max(60).optional() });

export const RestoreBody = z.object({
  /** Restore into a new cluster of this name (same plan and version); omitted: in place. */
  into: ClusterName.optional(),
});

export const ScheduleBody = z.object({
  at: HourMinute,
  tz: z.string().min(1).default('UTC'),
});

/** One row of `GET /v1/clusters/{name}/backups`. */
export const BackupRow = z.object({
  id: z.string(),
  kind: z.enum(['manual', 'daily']),
  status: z.enum(['requested', 'running', 'completed', 'failed', 'evicted', 'expired', 'deleted']),
  size: z.number().int().nullable(),
  sha256: z.string().nullable(),
  started: z.string().nullable(),
  requested: z.string().nullable(),
  duration: z.number().int().nullable().describe('milliseconds'),
  node: z.string().nullable(),
  onLeaderReason: z.string().optional(),
  failedReason: z.string().optional(),
});
export type BackupRow = z.infer<typeof BackupRow>;
