import type { ArchivingHealth } from '@pgfleet/contracts';

/** What the leader's `pg_stat_archiver` (and its archive status directory) said at `now`. */
export interface ArchiverSample {
  now: string;
  lastArchivedAt?: string;
  lastArchivedWal?: string;
  lastFailedAt?: string;
  lastFailedWal?: string;
  failedCount: number;
  /** WAL segments ready and waiting for archive_command (`.ready` files). */
  pendingSegments: number;
}

export interface ArchiverReading {
  health: ArchivingHealth;
  /** Seconds since the last archived segment while segments wait (0 when none waits). */
  lagSeconds: number;
  reason?: string;
}

const seconds = (from: string, to: string) => Math.max(0, Math.floor((Date.parse(to) - Date.parse(from)) / 1000));

/**
 * The archiver's health from one sample. Failed: segments wait and archive_command's last failure
 * is newer than its last success. Delayed: segments wait for longer than `thresholdSeconds` since
 * the last success. Otherwise ok. Pure.
 */
export function readArchiver(sample: ArchiverSample, thresholdSeconds: number): ArchiverReading {
  const waiting = sample.pendingSegments > 0;
  const lagSeconds = waiting && sample.lastArchivedAt ? seconds(sample.lastArchivedAt, sample.now) : 0;
  const failing =
    sample.lastFailedAt !== undefined &&
    (sample.lastArchivedAt === undefined || Date.parse(sample.lastFailedAt) > Date.parse(sample.lastArchivedAt));
  if (waiting && failing) {
    const wal = sample.lastFailedWal ? ` for WAL segment ${sample.lastFailedWal}` : '';
    const reason =
      `archive_command failed${wal} at ${sample.lastFailedAt} (${sample.failedCount} failures so far);` +
      ` ${sample.pendingSegments} segment(s) wait to be archived`;
    return { health: 'failed', lagSeconds, reason };
  }
  if (waiting && lagSeconds > thresholdSeconds) return { health: 'delayed', lagSeconds };
  return { health: 'ok', lagSeconds };
}
