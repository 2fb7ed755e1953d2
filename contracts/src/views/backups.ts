import { backupEvents } from '../events/backup.js';
import type { EventEnvelope, EventOfType } from '../index.js';
import type { BackupKind, BackupQuotaExceeded } from '../events/backup.js';

/** The backups view: every backup of one cluster and its daily schedule, folded from its
 * `backups-{clusterId}` stream. Pure; the backup service's decider and the API both fold with it. */

export type BackupEvent =
  | EventOfType<
      | 'BackupRequested'
      | 'BackupRejected'
      | 'BackupEvicted'
      | 'BackupStarted'
      | 'BackupCompleted'
      | 'BackupFailed'
      | 'BackupDeleted'
      | 'BackupExpired'
      | 'BackupScheduleSet'
      | 'BackupScheduleRemoved'
      | 'BackupsRetained'
      | 'BackupRestoreStarted'
      | 'BackupRestoreCompleted'
      | 'BackupRestoreFailed'
    >
  /** Only the backup quotas' shape: the disk quota's (`kind: 'disk'`) is on `disk-{clusterId}` streams. */
  | { type: 'QuotaExceeded'; data: BackupQuotaExceeded };

/**
 * requested -> running -> completed | failed; a completed backup leaves with evicted (rolling
 * manual quota) or expired (daily retention), then deleted once its file is gone.
 */
export type BackupStatus = 'requested' | 'running' | 'completed' | 'failed' | 'evicted' | 'expired' | 'deleted';

export interface Backup {
  backupId: string;
  kind: BackupKind;
  status: BackupStatus;
  requestedAt?: string;
  startedAt?: string;
  finishedAt?: string;
  node?: string;
  onLeaderReason?: string;
  size?: number;
  sha256?: string;
  durationMs?: number;
  failedReason?: string;
}

export interface BackupSchedule {
  at: string;
  tz: string;
  /** When it was set (from the envelope): a slot before it was never missed. */
  setAt?: string;
}

/** A restore of one of the cluster's backups (in place or into another cluster), by operation. */
export interface BackupRestore {
  operationId: string;
  backupId: string;
  targetClusterId: string;
  status: 'running' | 'completed' | 'failed';
  node?: string;
  startedAt?: string;
  durationMs?: number;
  failedReason?: string;
}

export interface BackupsState {
  clusterId?: string;
  backups: Backup[];
  schedule?: BackupSchedule;
  /** The cluster is deleted: its backups are kept until then (BackupsRetained), then expire. */
  retainedUntil?: string;
  restores: BackupRestore[];
  /** Number of events folded: the expected version of the next append. */
  version: number;
}

export const initialBackupsState = (): BackupsState => ({ backups: [], restores: [], version: 0 });

type Folded = BackupEvent | (EventEnvelope & BackupEvent);

const occurredAt = (e: Folded): string | undefined =>
  'occurredAt' in e && typeof e.occurredAt === 'string' ? e.occurredAt : undefined;

export function evolveBackups(state: BackupsState, event: Folded): BackupsState {
  const next: BackupsState = { ...state, version: state.version + 1 };
  const at = occurredAt(event);
  const patch = (backupId: string, p: Partial<Backup>): BackupsState => ({
    ...next,
    backups: next.backups.map((b) => (b.backupId === backupId ? { ...b, ...p } : b)),
  });
  switch (event.type) {
    case 'BackupRequested': {
      const d = event.data;
      if (next.backups.some((b) => b.backupId === d.backupId)) return next;
      const requestedAt = d.requestedAt ?? at;
      return {
        ...next,
        clusterId: d.clusterId,
        backups: [
          ...next.backups,
          { backupId: d.backupId, kind: d.kind, status: 'requested', ...(requestedAt ? { requestedAt } : {}) },
        ],
      };
    }
    case 'BackupStarted':
      return patch(event.data.backupId, {
        status: 'running',
        node: event.data.node,
        onLeaderReason: event.data.onLeaderReason,
        startedAt: at,
      });
    case 'BackupCompleted':
      return patch(event.data.backupId, {
        status: 'completed',
        size: event.data.size,
        sha256: event.data.sha256,
        durationMs: event.data.durationMs,
        finishedAt: at,
      });
    case 'BackupFailed':
      return patch(event.data.backupId, { status: 'failed', failedReason: event.data.reason, finishedAt: at });
    case 'BackupEvicted':
      return patch(event.data.backupId, { status: 'evicted' });
    case 'BackupExpired':
      return patch(event.data.backupId, { status: 'expired' });
    case 'BackupDeleted':
      return patch(event.data.backupId, { status: 'deleted' });
    case 'BackupScheduleSet':
      return {
        ...next,
        clusterId: event.data.clusterId,
        schedule: { at: event.data.at, tz: event.data.tz, ...(at ? { setAt: at } : {}) },
      };
    case 'BackupScheduleRemoved': {
      const { schedule: _removed, ...rest } = next;
      return { ...rest, clusterId: event.data.clusterId };
    }
    case 'BackupsRetained':
      return { ...next, clusterId: event.data.clusterId, retainedUntil: event.data.until };
    case 'BackupRestoreStarted': {
      const d = event.data;
      const restore: BackupRestore = {
        operationId: d.operationId,
        backupId: d.backupId,
        targetClusterId: d.targetClusterId,
        status: 'running',
        node: d.node,
        ...(at ? { startedAt: at } : {}),
      };
      return { ...next, restores: [...next.restores.filter((r) => r.operationId !== d.operationId), restore] };
    }
    case 'BackupRestoreCompleted': {
      const d = event.data;
      const restores = next.restores.map((r) =>
        r.operationId === d.operationId ? { ...r, status: 'completed' as const, durationMs: d.durationMs } : r,
      );
      return { ...next, restores };
    }
    case 'BackupRestoreFailed': {
      const d = event.data;
      const restores = next.restores.map((r) =>
        r.operationId === d.operationId ? { ...r, status: 'failed' as const, failedReason: d.reason } : r,
      );
      return { ...next, restores };
    }
    case 'QuotaExceeded':
    case 'BackupRejected':
      return next;
    default: {
      const never: never = event;
      return never;
    }
  }
}

export const findBackup = (state: BackupsState, backupId: string): Backup | undefined =>
  state.backups.find((b) => b.backupId === backupId);

/** Backups that still hold (or are about to hold) a file. */
export const isKept = (b: Backup): boolean =>
  b.status === 'requested' || b.status === 'running' || b.status === 'completed';

const BACKUP_EVENT_TYPES: ReadonlySet<string> = new Set(Object.keys(backupEvents));

/** Is this event one of the `backups-{clusterId}` stream's types (a disk `QuotaExceeded` is not)? */
export const isBackupEvent = <E extends { type: string }>(event: E): event is E & BackupEvent =>
  BACKUP_EVENT_TYPES.has(event.type) && !isDiskQuotaExceeded(event);

function isDiskQuotaExceeded(event: { type: string; data?: unknown }): boolean {
  const data = event.data as { kind?: unknown } | undefined;
  return event.type === 'QuotaExceeded' && data?.kind === 'disk';
}

/** Fold a `backups-{clusterId}` stream (events of other types, none expected there, are skipped). */
export function foldBackups(events: readonly { type: string }[]): BackupsState {
  let state = initialBackupsState();
  for (const e of events) if (isBackupEvent(e)) state = evolveBackups(state, e);
  return state;
}
