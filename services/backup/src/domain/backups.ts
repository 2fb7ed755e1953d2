import {
  evolveBackups,
  findBackup,
  initialBackupsState,
  isKept,
  type BackupEvent,
  type BackupKind,
  type BackupsState,
  type Plan,
} from '@pgfleet/contracts';
import { accept, reject, type Decider, type Decision } from '@pgfleet/kit';

export { evolveBackups, findBackup, initialBackupsState, isKept };
export type { Backup, BackupEvent, BackupSchedule, BackupStatus, BackupsState } from '@pgfleet/contracts';

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
