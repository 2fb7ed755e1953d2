import { type PitrBackupKind, pitrEvents } from '../events/pitr.js';
import type { EventEnvelope, EventOfType } from '../index.js';

/**
 * The PITR view: one cluster's pgBackRest archive as its `pitr-{clusterId}` stream tells it
 * (archiving enabled, full backups, archiver health, retention after a delete). Pure; the pitr
 * service's decider and the API both fold with it. The latest recoverable instant is not in the
 * stream (no event per WAL segment): it comes from the leader's `pg_stat_archiver`; the window itself is
 * `restorableWindow` (views/pitrRestore.ts), which also counts the restarts of the history.
 */

export type PitrEvent = EventOfType<keyof typeof pitrEvents>;

/** requested -> running -> completed | failed; a completed backup leaves the repository with expired. */
export type PitrBackupStatus = 'requested' | 'running' | 'completed' | 'failed' | 'expired';

export interface PitrBackup {
  backupId: string;
  kind: PitrBackupKind;
  status: PitrBackupStatus;
  requestedAt: string;
  startedAt?: string;
  node?: string;
  onLeaderReason?: string;
  /** pgBackRest's label of the backup in the repository. */
  label?: string;
  /** The end of the backup: the earliest instant a restore from it reaches. */
  stopAt?: string;
  size?: number;
  durationMs?: number;
  finishedAt?: string;
  failedReason?: string;
}

/** The archiver as the pitr service's monitor last saw it (it records transitions only). */
export type ArchivingHealth = 'ok' | 'delayed' | 'failed';

export interface PitrState {
  clusterId?: string;
  stanza?: string;
  /** Continuous archiving began (ContinuousBackupEnabled). */
  enabledAt?: string;
  backups: PitrBackup[];
  archiving: {
    health: ArchivingHealth;
    /** When the current health began (the event's time). */
    since?: string;
    reason?: string;
    lagSeconds?: number;
    lastArchivedAt?: string;
  };
  /** The cluster is deleted; its archive is kept until then. */
  retainedUntil?: string;
  removedAt?: string;
  removed: boolean;
  /** Number of events folded: the expected version of the next append. */
  version: number;
}

export const initialPitrState = (): PitrState => ({
  backups: [],
  archiving: { health: 'ok' },
  removed: false,
  version: 0,
});

type Folded = PitrEvent | (EventEnvelope & PitrEvent);

const occurredAt = (e: Folded): string | undefined =>
  'occurredAt' in e && typeof e.occurredAt === 'string' ? e.occurredAt : undefined;

const optional = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };

export function evolvePitr(state: PitrState, event: Folded): PitrState {
  const next: PitrState = { ...state, version: state.version + 1 };
  const at = occurredAt(event);
  const patch = (backupId: string, p: Partial<PitrBackup>): PitrState => ({
    ...next,
    backups: next.backups.map((b) => (b.backupId === backupId ? { ...b, ...p } : b)),
  });
  switch (event.type) {
    case 'ContinuousBackupEnabled':
      return { ...next, clusterId: event.data.clusterId, stanza: event.data.stanza, ...optional('enabledAt', at) };
    case 'PitrBackupRequested': {
      const d = event.data;
      if (next.backups.some((b) => b.backupId === d.backupId)) return next;
      const backup: PitrBackup = {
        backupId: d.backupId,
        kind: d.kind,
        status: 'requested',
        requestedAt: d.requestedAt,
      };
      return { ...next, clusterId: d.clusterId, backups: [...next.backups, backup] };
    }
    case 'PitrBackupStarted':
      return patch(event.data.backupId, {
        status: 'running',
        node: event.data.node,
        onLeaderReason: event.data.onLeaderReason,
        ...optional('startedAt', at),
      });
    case 'PitrBackupCompleted': {
      const d = event.data;
      return patch(d.backupId, {
        status: 'completed',
        label: d.label,
        startedAt: d.startedAt,
        stopAt: d.stopAt,
        size: d.size,
        durationMs: d.durationMs,
        ...optional('finishedAt', at),
      });
    }
    case 'PitrBackupFailed':
      return patch(event.data.backupId, {
        status: 'failed',
        failedReason: event.data.reason,
        ...optional('finishedAt', at),
      });
    case 'PitrBackupsExpired': {
      const labels = new Set(event.data.labels);
      const backups = next.backups.map((b) =>
        b.label !== undefined && labels.has(b.label) ? { ...b, status: 'expired' as const } : b,
      );
      return { ...next, backups };
    }
    case 'WalArchivingDelayed': {
      const d = event.data;
      const archiving = { health: 'delayed' as const, lagSeconds: d.lagSeconds, ...optional('since', at) };
      return { ...next, archiving: { ...archiving, ...optional('lastArchivedAt', d.lastArchivedAt) } };
    }
    case 'WalArchivingFailed': {
      const d = event.data;
      const archiving = { health: 'failed' as const, reason: d.reason, ...optional('since', at) };
      return { ...next, archiving: { ...archiving, ...optional('lastArchivedAt', d.lastArchivedAt) } };
    }
    case 'WalArchivingRecovered':
      return {
        ...next,
        archiving: { health: 'ok', ...optional('since', at), ...optional('lastArchivedAt', event.data.lastArchivedAt) },
      };
    case 'PitrArchiveRetained':
      return { ...next, clusterId: event.data.clusterId, retainedUntil: event.data.until };
    case 'PitrArchiveRemoved':
      return { ...next, removed: true, ...optional('removedAt', at) };
    default: {
      const never: never = event;
      return never;
    }
  }
}

const PITR_EVENT_TYPES: ReadonlySet<string> = new Set(Object.keys(pitrEvents));

/** Is this event one of the types this view folds? */
export const isPitrEvent = <E extends { type: string }>(event: E): event is E & PitrEvent =>
  PITR_EVENT_TYPES.has(event.type);

/** Fold a `pitr-{clusterId}` stream (events of other types are skipped). */
export function foldPitr(events: readonly { type: string }[]): PitrState {
  let state = initialPitrState();
  for (const e of events) if (isPitrEvent(e)) state = evolvePitr(state, e);
  return state;
}

export const findPitrBackup = (state: PitrState, backupId: string): PitrBackup | undefined =>
  state.backups.find((b) => b.backupId === backupId);

/** Full backups still in the repository, oldest first. */
export const keptPitrBackups = (state: PitrState): PitrBackup[] =>
  state.backups
    .filter((b) => b.status === 'completed' && b.stopAt !== undefined)
    .sort((a, b) => Date.parse(a.stopAt!) - Date.parse(b.stopAt!));

/** The backup being taken or waiting to be (at most one at a time). */
export const pendingPitrBackup = (state: PitrState): PitrBackup | undefined =>
  state.backups.find((b) => b.status === 'requested' || b.status === 'running');

export const lastPitrBackup = (state: PitrState): PitrBackup | undefined => keptPitrBackups(state).at(-1);

/** The recoverable window: any instant in [earliest, latest] can be restored. */
export interface PitrWindow {
  /** The end (stop time) of the oldest full backup still kept. */
  earliest: string;
  /** The newest WAL archived (the leader's `pg_stat_archiver.last_archived_time`), never before `earliest`. */
  latest: string;
}
