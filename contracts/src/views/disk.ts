import { type DiskQuotaExceeded, diskEvents } from '../events/disk.js';
import type { EventEnvelope, EventOfType } from '../index.js';

/**
 * The disk view: one cluster's data size and disk quota as its `disk-{clusterId}` stream tells it.
 * Pure; the ha service's decider (which records the measurements) and the API (`cluster show`)
 * both fold with it. The size is the last one recorded: measurements are recorded only when the
 * size moved by a step, so it is within that step of the last measurement.
 */

export type DiskEvent =
  | EventOfType<keyof typeof diskEvents>
  /** Only the disk quota's shape: the backup quotas' are on `backups-{clusterId}` streams. */
  | { type: 'QuotaExceeded'; data: DiskQuotaExceeded };

export interface DiskState {
  clusterId?: string;
  /** The data's size in bytes at the last recorded measurement. */
  used?: number;
  /** The limit (bytes) that measurement was judged against: the plan's `diskGb` GiB. */
  limit?: number;
  /** When the last measurement was recorded (from the envelope). */
  measuredAt?: string;
  /** A `QuotaExceeded` not yet followed by `DiskUsageBackUnderQuota`. */
  over: boolean;
  /** Since when it is over the quota (from the envelope). */
  overSince?: string;
  /** Number of events folded: the expected version of the next append. */
  version: number;
}

export const initialDiskState = (): DiskState => ({ over: false, version: 0 });

type Folded = DiskEvent | (EventEnvelope & DiskEvent);

const occurredAt = (e: Folded): string | undefined =>
  'occurredAt' in e && typeof e.occurredAt === 'string' ? e.occurredAt : undefined;

export function evolveDisk(state: DiskState, event: Folded): DiskState {
  const at = occurredAt(event);
  const { clusterId, used, limit } = event.data;
  const measured: DiskState = {
    ...state,
    version: state.version + 1,
    clusterId,
    used,
    limit,
    ...(at ? { measuredAt: at } : {}),
  };
  switch (event.type) {
    case 'DiskUsageMeasured':
      return measured;
    case 'QuotaExceeded': {
      const { overSince: _was, ...rest } = measured;
      return { ...rest, over: true, ...(at ? { overSince: at } : {}) };
    }
    case 'DiskUsageBackUnderQuota': {
      const { overSince: _was, ...rest } = measured;
      return { ...rest, over: false };
    }
    default: {
      const never: never = event;
      return never;
    }
  }
}

const DISK_EVENT_TYPES: ReadonlySet<string> = new Set(Object.keys(diskEvents));

/** Is this event one of the `disk-{clusterId}` stream's (a backup `QuotaExceeded` is not)? */
export const isDiskEvent = <E extends { type: string; data?: unknown }>(event: E): event is E & DiskEvent =>
  DISK_EVENT_TYPES.has(event.type) ||
  (event.type === 'QuotaExceeded' && (event.data as { kind?: unknown } | undefined)?.kind === 'disk');

/** Fold a `disk-{clusterId}` stream. */
export function foldDisk(events: readonly { type: string; data?: unknown }[]): DiskState {
  let state = initialDiskState();
  for (const e of events) if (isDiskEvent(e)) state = evolveDisk(state, e);
  return state;
}
