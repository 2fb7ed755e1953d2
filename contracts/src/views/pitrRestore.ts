import type { EventOfType } from '../index.js';
import { keptPitrBackups, type PitrState, type PitrWindow } from './pitr.js';

/**
 * The recoverable window once restarts are counted: an in-place restore to a time (or a major
 * upgrade) cuts the cluster's history, so only full backups that ended after the last cut can be
 * restored from. Pure; the pitr service validates a restore with it and `pitr status` can show it.
 */

type Restarted = EventOfType<'PitrWindowRestarted'>;

/** The last PitrWindowRestarted of a `pitr-{clusterId}` stream (events of other types are skipped). */
export function lastWindowRestart(events: readonly { type: string; data?: unknown }[]): Restarted['data'] | undefined {
  let last: Restarted['data'] | undefined;
  for (const e of events) if (e.type === 'PitrWindowRestarted') last = (e as Restarted).data;
  return last;
}

/**
 * The window [earliest, latest] a restore may target: from the end of the oldest full backup kept
 * that ended after the last restart, to the newest archived WAL (never before that backup's end).
 * Undefined when there is none yet (no full backup since archiving began or since the restart).
 */
export function restorableWindow(
  state: PitrState,
  restartedAt: string | undefined,
  lastArchivedAt: string | undefined,
): PitrWindow | undefined {
  if (state.removed) return undefined;
  const since = restartedAt === undefined ? Number.NEGATIVE_INFINITY : Date.parse(restartedAt);
  const kept = keptPitrBackups(state).filter((b) => Date.parse(b.stopAt!) >= since);
  if (kept.length === 0) return undefined;
  const earliest = kept[0]!.stopAt!;
  const newest = kept.at(-1)!.stopAt!;
  const latest =
    lastArchivedAt !== undefined && Date.parse(lastArchivedAt) > Date.parse(newest) ? lastArchivedAt : newest;
  return { earliest, latest };
}
