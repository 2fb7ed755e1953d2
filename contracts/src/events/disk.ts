import { z } from 'zod';
import { Id } from '../names.js';

/** A size in bytes. */
const Bytes = z.number().int().min(0);

/**
 * `QuotaExceeded` of the disk quota, on the `disk-{clusterId}` stream: the cluster's data take
 * `used` bytes, more than the `limit` of its plan (`diskGb` GiB, in bytes). Recorded once per
 * crossing, not at every measurement. The type name is shared with the backup quotas (see
 * `QuotaExceeded` in backup.ts, which accepts both): `kind: 'disk'` tells this one apart.
 */
export const DiskQuotaExceeded = z.object({
  kind: z.literal('disk'),
  clusterId: Id,
  used: Bytes,
  limit: Bytes,
});
export type DiskQuotaExceeded = z.infer<typeof DiskQuotaExceeded>;

/**
 * Events of the `disk-{clusterId}` stream, recorded by the measuring service (ha). Not every
 * measurement is recorded: `DiskUsageMeasured` only when the size moved by a step (1% of the
 * limit, at least 8 MiB) or the limit changed, so `cluster show` and a plan change can read a
 * recent figure from the store.
 */
export const diskEvents = {
  DiskUsageMeasured: z.object({ clusterId: Id, used: Bytes, limit: Bytes }),
  /** The data went back under the limit (by the hysteresis margin) after a `QuotaExceeded {kind: 'disk'}`. */
  DiskUsageBackUnderQuota: z.object({ clusterId: Id, used: Bytes, limit: Bytes }),
} as const;
