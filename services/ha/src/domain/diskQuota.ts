import { evolveDisk, initialDiskState, type DiskEvent, type DiskState } from '@pgfleet/contracts';
import { accept, type Decider, type Decision } from '@pgfleet/kit';

/**
 * The disk quota of one cluster, decided on its `disk-{clusterId}` stream from each measurement of
 * its data size. A measurement is recorded only when it says something new, so the stream stays
 * small and two HA replicas measuring the same cluster record one crossing: each decision is an
 * append with the stream's version as expected version, and the loser decides again on the new
 * stream, where the crossing is already recorded.
 *
 * - not over, `used > limit`: `QuotaExceeded {kind: 'disk', used, limit}` (once per crossing);
 * - over, `used <= limit - margin`: `DiskUsageBackUnderQuota` (the margin, 1% of the limit, keeps a
 *   size that wobbles around the limit from recording a crossing at every measurement);
 * - otherwise `DiskUsageMeasured` when it is the first measurement, the limit changed (a plan
 *   change) or the size moved by a step since the last one recorded; else nothing.
 */
interface RecordDiskUsageCommand {
  type: 'RecordDiskUsage';
  clusterId: string;
  /** Bytes the data take now. */
  used: number;
  /** The plan's disk size in bytes. */
  limit: number;
}

export type DiskQuotaCommand = RecordDiskUsageCommand;

const MiB = 1024 * 1024;

/** The size moves by this much before a new measurement is recorded: 1% of the limit, at least 8 MiB. */
export const measurementStep = (limit: number): number => Math.max(8 * MiB, Math.floor(limit / 100));

/** Back under the quota means this far under the limit: 1% of it. */
export const backUnderMargin = (limit: number): number => Math.floor(limit / 100);

function recordDiskUsage(c: RecordDiskUsageCommand, state: DiskState): Decision<DiskEvent> {
  const { clusterId, used, limit } = c;
  if (!state.over && used > limit)
    return accept({ type: 'QuotaExceeded', data: { kind: 'disk', clusterId, used, limit } });
  if (state.over && used <= limit - backUnderMargin(limit)) {
    return accept({ type: 'DiskUsageBackUnderQuota', data: { clusterId, used, limit } });
  }
  const moved = state.used === undefined || Math.abs(used - state.used) >= measurementStep(limit);
  if (moved || state.limit !== limit) return accept({ type: 'DiskUsageMeasured', data: { clusterId, used, limit } });
  return accept();
}

export function decideDiskQuota(command: DiskQuotaCommand, state: DiskState): Decision<DiskEvent> {
  switch (command.type) {
    case 'RecordDiskUsage':
      return recordDiskUsage(command, state);
    default: {
      const never: never = command.type;
      return never;
    }
  }
}

export const diskQuotaDecider: Decider<DiskState, DiskQuotaCommand, DiskEvent> = {
  initialState: initialDiskState(),
  evolve: evolveDisk,
  decide: decideDiskQuota,
};
