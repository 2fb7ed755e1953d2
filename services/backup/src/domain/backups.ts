import type { BackupKind, EventEnvelope, EventOfType, Plan } from '@pgfleet/contracts';
import { accept, reject, type Decider, type Decision } from '@pgfleet/kit';

/** The `backups-{clusterId}` aggregate: every backup of one cluster and its daily schedule. */

export type BackupEvent = EventOfType<
  'BackupRequested' | 'QuotaExceeded' | 'BackupRejected' | 'BackupEvicted' | 'BackupStarted' | 'BackupCompleted'
  | 'BackupFailed' | 'BackupDeleted' | 'BackupExpired' | 'BackupScheduleSet'
>;

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

export interface BackupsState {
  clusterId?: string;
  backups: Backup[];
  schedule?: BackupSchedule;
  /** Number of events folded: the expected version of the next append. */
  version: number;
}

export const initialBackupsState = (): BackupsState => ({ backups: [], version: 0 });

type Folded = BackupEvent | (EventEnvelope & BackupEvent);

const occurredAt = (e: Folded): string | undefined => ('occurredAt' in e && typeof e.occurredAt === 'string' ? e.occurredAt : undefined);

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
      return { ...next, clusterId: d.clusterId, backups: [...next.backups, { backupId: d.backupId, kind: d.kind, status: 'requested', ...(requestedAt ? { requestedAt } : {}) }] };
    }
    case 'BackupStarted':
      return patch(event.data.backupId, { status: 'running', node: event.data.node, onLeaderReason: event.data.onLeaderReason, startedAt: at });
    case 'BackupCompleted':
      return patch(event.data.backupId, { status: 'completed', size: event.data.size, sha256: event.data.sha256, durationMs: event.data.durationMs, finishedAt: at });
    case 'BackupFailed':
      return patch(event.data.backupId, { status: 'failed', failedReason: event.data.reason, finishedAt: at });
    case 'BackupEvicted':
      return patch(event.data.backupId, { status: 'evicted' });
    case 'BackupExpired':
      return patch(event.data.backupId, { status: 'expired' });
    case 'BackupDeleted':
      return patch(event.data.backupId, { status: 'deleted' });
    case 'BackupScheduleSet':
      return { ...next, clusterId: event.data.clusterId, schedule: { at: event.data.at, tz: event.data.tz, ...(at ? { setAt: at } : {}) } };
    case 'QuotaExceeded':
    case 'BackupRejected':
      return next;
    default: {
      const never: never = event;
      return never;
    }
  }
}

export const findBackup = (state: BackupsState, backupId: string): Backup | undefined => state.backups.find((b) => b.backupId === backupId);

/** Backups that still hold (or are about to hold) a file. */
export const isKept = (b: Backup): boolean => b.status === 'requested' || b.status === 'running' || b.status === 'completed';

// ---- commands -------------------------------------------------------------------------------

/** What the cluster's own stream says, as the decision needs it. */
export interface ClusterFacts {
  clusterId: string;
  name: string;
  plan: Plan;
  ready: boolean;
}

export interface RequestBackupCommand {
  type: 'RequestBackup';
  cluster: ClusterFacts;
  /** The new backup's id (chosen by the caller: the domain has no randomness). */
  backupId: string;
  /** ISO 8601 instant of the request. */
  now: string;
  kind: BackupKind;
}

export interface SetBackupScheduleCommand {
  type: 'SetBackupSchedule';
  cluster: ClusterFacts;
  at: string;
  tz: string;
}

/** Worker outcomes, decided against the current state so a stale worker records nothing. */
export type RecordCommand =
  | { type: 'StartBackup'; backupId: string; node: string; onLeaderReason?: string }
  | { type: 'CompleteBackup'; backupId: string; size: number; sha256: string; durationMs: number }
  | { type: 'FailBackup'; backupId: string; reason: string }
  | { type: 'DeleteBackup'; backupId: string }
  | { type: 'ExpireBackups'; backupIds: string[] };

export type BackupsCommand = RequestBackupCommand | SetBackupScheduleCommand | RecordCommand;

const utcDay = (iso: string) => iso.slice(0, 10);

function decideRequest(cmd: RequestBackupCommand, state: BackupsState): Decision<BackupEvent> {
  const { cluster, backupId, now, kind } = cmd;
  const { backups } = cluster.plan;
  if (!backups.enabled) {
    return reject('BACKUPS_NOT_IN_PLAN', `the ${cluster.plan.id} plan of cluster ${cluster.name} has no backups; change to a starter or business plan`, { field: 'clusterId', plan: cluster.plan.id });
  }
  if (!cluster.ready) return reject('CLUSTER_NOT_READY', `cluster ${cluster.name} is not ready for a backup`, { field: 'clusterId' });
  if (findBackup(state, backupId)) return accept();
  const requested: BackupEvent = { type: 'BackupRequested', data: { backupId, clusterId: cluster.clusterId, kind, requestedAt: now } };
  if (kind === 'daily') return accept(requested);

  const manual = state.backups.filter((b) => b.kind === 'manual');
  const today = manual.filter((b) => b.requestedAt !== undefined && utcDay(b.requestedAt) === utcDay(now)).length;
  if (today >= backups.manualDaily) {
    const reason = `daily on-demand backup limit (${backups.manualDaily}) reached for cluster ${cluster.name}`;
    return accept<BackupEvent>(
      { type: 'QuotaExceeded', data: { clusterId: cluster.clusterId, quota: 'backups.manual.daily', limit: backups.manualDaily, used: today } },
      { type: 'BackupRejected', data: { clusterId: cluster.clusterId, code: 'QUOTA_EXCEEDED', reason } },
    );
  }
  const kept = manual.filter(isKept);
  if (kept.length >= backups.manualTotal) {
    const oldest = kept.find((b) => b.status === 'completed');
    const exceeded: BackupEvent = { type: 'QuotaExceeded', data: { clusterId: cluster.clusterId, quota: 'backups.manual.total', limit: backups.manualTotal, used: kept.length } };
    if (!oldest) {
      const reason = `on-demand backup limit (${backups.manualTotal}) reached for cluster ${cluster.name} and no completed backup can make room yet`;
      return accept<BackupEvent>(exceeded, { type: 'BackupRejected', data: { clusterId: cluster.clusterId, code: 'QUOTA_EXCEEDED', reason } });
    }
    return accept<BackupEvent>(exceeded, { type: 'BackupEvicted', data: { backupId: oldest.backupId, clusterId: cluster.clusterId } }, requested);
  }
  return accept(requested);
}

function decideRecord(cmd: RecordCommand, state: BackupsState): Decision<BackupEvent> {
  if (cmd.type === 'ExpireBackups') {
    const expired = cmd.backupIds.filter((id) => findBackup(state, id)?.status === 'completed');
    return accept(...expired.map((backupId): BackupEvent => ({ type: 'BackupExpired', data: { backupId } })));
  }
  const backup = findBackup(state, cmd.backupId);
  if (!backup) return reject('BACKUP_NOT_FOUND', `no backup ${cmd.backupId}`, { field: 'backupId' });
  const notPending = () => reject('BACKUP_NOT_PENDING', `backup ${cmd.backupId} is ${backup.status}`, { field: 'backupId', status: backup.status });
  switch (cmd.type) {
    case 'StartBackup':
      if (backup.status !== 'requested') return notPending();
      return accept({ type: 'BackupStarted', data: { backupId: cmd.backupId, node: cmd.node, ...(cmd.onLeaderReason ? { onLeaderReason: cmd.onLeaderReason } : {}) } });
    case 'CompleteBackup':
      if (backup.status !== 'running') return notPending();
      return accept({ type: 'BackupCompleted', data: { backupId: cmd.backupId, size: cmd.size, sha256: cmd.sha256, durationMs: cmd.durationMs } });
    case 'FailBackup':
      if (backup.status !== 'running' && backup.status !== 'requested') return notPending();
      return accept({ type: 'BackupFailed', data: { backupId: cmd.backupId, reason: cmd.reason } });
    case 'DeleteBackup':
      if (backup.status !== 'evicted' && backup.status !== 'expired') return accept();
      return accept({ type: 'BackupDeleted', data: { backupId: cmd.backupId } });
    default: {
      const never: never = cmd;
      return never;
    }
  }
}

export function decideBackups(cmd: BackupsCommand, state: BackupsState): Decision<BackupEvent> {
  switch (cmd.type) {
    case 'RequestBackup':
      return decideRequest(cmd, state);
    case 'SetBackupSchedule':
      if (!cmd.cluster.plan.backups.enabled) {
        return reject('BACKUPS_NOT_IN_PLAN', `the ${cmd.cluster.plan.id} plan of cluster ${cmd.cluster.name} has no backups`, { field: 'clusterId', plan: cmd.cluster.plan.id });
      }
      return accept({ type: 'BackupScheduleSet', data: { clusterId: cmd.cluster.clusterId, at: cmd.at, tz: cmd.tz } });
    default:
      return decideRecord(cmd, state);
  }
}

export const backupsDecider: Decider<BackupsState, BackupsCommand, BackupEvent> = {
  initialState: initialBackupsState(),
  evolve: evolveBackups,
  decide: decideBackups,
};
