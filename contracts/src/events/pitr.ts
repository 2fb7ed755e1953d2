import { z } from 'zod';
import { Id } from '../names.js';

/** Why a PITR full backup was taken: the first one after archiving began, the weekly one, or `pgfleet pitr backup`. */
export const PitrBackupKind = z.enum(['initial', 'weekly', 'manual']);
export type PitrBackupKind = z.infer<typeof PitrBackupKind>;

const Instant = z.iso.datetime({ offset: true });

/**
 * Events of the `pitr-{clusterId}` stream: the cluster's pgBackRest stanza, its WAL archiving and
 * its full backups. The archive is a stanza named after the cluster in the platform's repository;
 * events name the stanza and pgBackRest's backup labels, never a host path.
 */
export const pitrEvents = {
  /**
   * The stanza exists, `pgbackrest check` saw a WAL segment archived from the leader `node`: from
   * now on every WAL segment the cluster writes is kept (the first full backup follows).
   */
  ContinuousBackupEnabled: z.object({ clusterId: Id, stanza: z.string().min(1), node: Id }),
  /** A full backup is wanted (weekly slot, `pgfleet pitr backup`, or the first after enabling). */
  PitrBackupRequested: z.object({
    backupId: Id,
    clusterId: Id,
    kind: PitrBackupKind,
    /** When the request was decided; a weekly one names its slot's instant. */
    requestedAt: Instant,
  }),
  /** pgbackrest backup --type=full began on `node` (a follower on Business unless `onLeaderReason`). */
  PitrBackupStarted: z.object({ backupId: Id, node: Id, onLeaderReason: z.string().optional() }),
  /**
   * The full backup is in the repository as pgBackRest's `label`; `stopAt` (its end) is the
   * earliest instant a restore from it can reach. `size` is the repository size in bytes.
   */
  PitrBackupCompleted: z.object({
    backupId: Id,
    label: z.string().min(1),
    startedAt: Instant,
    stopAt: Instant,
    size: z.number().int().min(0),
    durationMs: z.number().int().min(0),
  }),
  /** The backup did not complete (including a backup interrupted by a crash of the service). */
  PitrBackupFailed: z.object({ backupId: Id, reason: z.string() }),
  /** Retention (`keepDays` = the plan's PITR days) removed these full backups from the repository. */
  PitrBackupsExpired: z.object({ labels: z.array(z.string().min(1)).min(1), keepDays: z.number().int().min(0) }),
  /** WAL waits to be archived for longer than the threshold (`lagSeconds` since the last archived segment). */
  WalArchivingDelayed: z.object({
    lagSeconds: z.number().int().min(0),
    lastArchivedAt: Instant.optional(),
  }),
  /** archive_command fails (pg_stat_archiver's last failure is newer than its last success). */
  WalArchivingFailed: z.object({
    reason: z.string(),
    lastFailedWal: z.string().optional(),
    lastArchivedAt: Instant.optional(),
  }),
  /** Archiving is back on time after WalArchivingDelayed or WalArchivingFailed. */
  WalArchivingRecovered: z.object({ lastArchivedAt: Instant.optional() }),
  /** The cluster was deleted: its archive is kept until `until` (the plan's PITR window) so it can be restored. */
  PitrArchiveRetained: z.object({ clusterId: Id, until: Instant }),
  /** The archive (stanza, full backups and WAL) of a deleted cluster is removed from the repository. */
  PitrArchiveRemoved: z.object({ clusterId: Id }),
} as const;
