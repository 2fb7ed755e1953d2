import { z } from 'zod';
import { Id } from '../names.js';

/** Why a cluster's recoverable window starts again: an in-place restore to a time, or a major upgrade. */
export const PitrWindowRestartReason = z.enum(['in-place-restore', 'major-upgrade']);
export type PitrWindowRestartReason = z.infer<typeof PitrWindowRestartReason>;

const Instant = z.iso.datetime({ offset: true });

/**
 * Events of the `pitr-{clusterId}` stream about restores to a time (the pitr view folds the others).
 */
export const pitrRestoreEvents = {
  /**
   * The cluster's history was cut at `at`: its data was restored in place to `targetTime` (or
   * upgraded to a new major version). Nothing before `at` can be restored any more; the window
   * begins again at the end of the first full backup completed after it (one is requested).
   */
  PitrWindowRestarted: z.object({
    clusterId: Id,
    at: Instant,
    reason: PitrWindowRestartReason,
    /** The instant the data was restored to (in-place restore). */
    targetTime: Instant.optional(),
    /** The operation that cut the history. */
    operationId: Id.optional(),
  }),
} as const;
