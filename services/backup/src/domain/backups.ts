import {
  evolveBackups,
  findBackup,
  foldBackups,
  initialBackupsState,
  isBackupEvent,
  isKept,
  type BackupEvent,
  type BackupKind,
  type BackupsState,
  type Plan,
} from '@pgfleet/contracts';
import { accept, reject, type Decider, type Decision } from '@pgfleet/kit';
import { decidePlanQuota, isBeingRestored, manualQuotaEvictions, type ApplyPlanQuotaCommand } from './manualQuota.js';
import { retainedAfterDelete } from './retention.js';

export { evolveBackups, findBackup, foldBackups, initialBackupsState, isBackupEvent, isKept };
export type {
  Backup,
  BackupEvent,
  BackupRestore,
  BackupSchedule,
  BackupStatus,
  BackupsState,
} from '@pgfleet/contracts';

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
export type BackupOutcomeCommand =
  | { type: 'StartBackup'; backupId: string; node: string; onLeaderReason?: string }
  | { type: 'CompleteBackup'; backupId: string; size: number; sha256: string; durationMs: number }
  | { type: 'FailBackup'; backupId: string; reason: string }
  | { type: 'DeleteBackup'; backupId: string };

/**
 * What a restore operation (`operationId`) records about one of the cluster's backups. Starting
 * again a restore that is still running is an attempt after an interruption (the service stopped
 * while pg_restore ran in its single transaction): it is recorded again.
 */
export type RestoreCommand =
  | { type: 'StartRestore'; operationId: string; backupId: string; targetClusterId: string; node: string }
  | { type: 'CompleteRestore'; operationId: string; durationMs: number }
  | { type: 'FailRestore'; operationId: string; reason: string };

/**
 * The cluster was deleted at `deletedAt`: its schedule goes, its completed backups are kept until
 * the plan's retention after the delete (`ExpireRetainedBackups` at `now` expires them once it passed).
 */
export type DeletedClusterCommand =
  | { type: 'RetainBackups'; clusterId: string; plan: Plan; deletedAt: string }
  | { type: 'ExpireRetainedBackups'; now: string };

export type RecordCommand =
  | BackupOutcomeCommand
  | RestoreCommand
  | DeletedClusterCommand
  | ApplyPlanQuotaCommand
  | { type: 'ExpireBackups'; backupIds: string[] };

export type BackupsCommand = RequestBackupCommand | SetBackupScheduleCommand | RecordCommand;

const utcDay = (iso: string) => iso.slice(0, 10);

const notInPlan = (cluster: ClusterFacts, hint: string) =>
  reject('BACKUPS_NOT_IN_PLAN', `the ${cluster.plan.id} plan of cluster ${cluster.name} has no backups${hint}`, {
    field: 'clusterId',
    plan: cluster.plan.id,
  });

const quotaRejected = (cluster: ClusterFacts, reason: string): BackupEvent => ({
  type: 'BackupRejected',
  data: { clusterId: cluster.clusterId, code: 'QUOTA_EXCEEDED', reason },
});

function decideRequest(cmd: RequestBackupCommand, state: BackupsState): Decision<BackupEvent> {
  const { cluster, backupId, now, kind } = cmd;
  const { clusterId } = cluster;
  const { backups } = cluster.plan;
  if (!backups.enabled) return notInPlan(cluster, '; change to a starter or business plan');
  if (!cluster.ready) {
    return reject('CLUSTER_NOT_READY', `cluster ${cluster.name} is not ready for a backup`, { field: 'clusterId' });
  }
  if (findBackup(state, backupId)) return accept();
  const requested: BackupEvent = { type: 'BackupRequested', data: { backupId, clusterId, kind, requestedAt: now } };
  if (kind === 'daily') return accept(requested);

  const manual = state.backups.filter((b) => b.kind === 'manual');
  const today = manual.filter((b) => b.requestedAt !== undefined && utcDay(b.requestedAt) === utcDay(now)).length;
  if (today >= backups.manualDaily) {
    const limit = backups.manualDaily;
    return accept<BackupEvent>(
      { type: 'QuotaExceeded', data: { clusterId, quota: 'backups.manual.daily', limit, used: today } },
      quotaRejected(cluster, `daily on-demand backup limit (${limit}) reached for cluster ${cluster.name}`),
    );
  }
  const quota = manualQuotaEvictions({ ...state, clusterId }, backups.manualTotal, 1);
  if (!quota.exceeded) return accept(requested);
  if (!quota.fits) {
    const reason =
      `on-demand backup limit (${backups.manualTotal}) reached for cluster ${cluster.name}` +
      ' and no completed backup can make room yet';
    return accept<BackupEvent>(quota.exceeded, quotaRejected(cluster, reason));
  }
  return accept<BackupEvent>(quota.exceeded, ...quota.evicted, requested);
}

function decideExpire(backupIds: readonly string[], state: BackupsState): Decision<BackupEvent> {
  const expired = backupIds.filter(
    (id) => findBackup(state, id)?.status === 'completed' && !isBeingRestored(state, id),
  );
  return accept(...expired.map((backupId): BackupEvent => ({ type: 'BackupExpired', data: { backupId } })));
}

function decideDeleted(cmd: DeletedClusterCommand, state: BackupsState): Decision<BackupEvent> {
  switch (cmd.type) {
    case 'RetainBackups': {
      const { clusterId } = cmd;
      const removed: BackupEvent[] = state.schedule ? [{ type: 'BackupScheduleRemoved', data: { clusterId } }] : [];
      const backupIds = state.backups.filter((b) => b.status === 'completed').map((b) => b.backupId);
      if (state.retainedUntil !== undefined || backupIds.length === 0) return accept(...removed);
      const until = retainedAfterDelete(cmd.plan.backups.daily, cmd.deletedAt);
      return accept(...removed, { type: 'BackupsRetained', data: { clusterId, until, backupIds } });
    }
    case 'ExpireRetainedBackups': {
      const until = state.retainedUntil;
      if (until === undefined || Date.parse(until) > Date.parse(cmd.now)) return accept();
      return decideExpire(
        state.backups.filter((b) => b.status === 'completed').map((b) => b.backupId),
        state,
      );
    }
    default: {
      const never: never = cmd;
      return never;
    }
  }
}

function decideOutcome(cmd: BackupOutcomeCommand, state: BackupsState): Decision<BackupEvent> {
  const { backupId } = cmd;
  const backup = findBackup(state, backupId);
  if (!backup) return reject('BACKUP_NOT_FOUND', `no backup ${backupId}`, { field: 'backupId' });
  const { status } = backup;
  const notPending = () =>
    reject('BACKUP_NOT_PENDING', `backup ${backupId} is ${status}`, { field: 'backupId', status });
  switch (cmd.type) {
    case 'StartBackup': {
      if (backup.status !== 'requested') return notPending();
      const why = cmd.onLeaderReason ? { onLeaderReason: cmd.onLeaderReason } : {};
      return accept({ type: 'BackupStarted', data: { backupId, node: cmd.node, ...why } });
    }
    case 'CompleteBackup': {
      if (backup.status !== 'running') return notPending();
      const { size, sha256, durationMs } = cmd;
      return accept({ type: 'BackupCompleted', data: { backupId, size, sha256, durationMs } });
    }
    case 'FailBackup':
      if (backup.status !== 'running' && backup.status !== 'requested') return notPending();
      return accept({ type: 'BackupFailed', data: { backupId, reason: cmd.reason } });
    case 'DeleteBackup':
      if (backup.status !== 'evicted' && backup.status !== 'expired') return accept();
      return accept({ type: 'BackupDeleted', data: { backupId } });
    default: {
      const never: never = cmd;
      return never;
    }
  }
}

function decideRestore(cmd: RestoreCommand, state: BackupsState): Decision<BackupEvent> {
  const { operationId } = cmd;
  const restore = state.restores.find((r) => r.operationId === operationId);
  const notRunning = () =>
    reject('RESTORE_NOT_RUNNING', `the restore of operation ${operationId} is ${restore?.status ?? 'not started'}`, {
      field: 'operationId',
      ...(restore ? { status: restore.status } : {}),
    });
  switch (cmd.type) {
    case 'StartRestore': {
      const { backupId, targetClusterId, node } = cmd;
      const backup = findBackup(state, backupId);
      if (!backup) return reject('BACKUP_NOT_FOUND', `no backup ${backupId}`, { field: 'backupId' });
      if (backup.status !== 'completed') {
        const message = `backup ${backupId} is ${backup.status}, not completed`;
        return reject('BACKUP_NOT_COMPLETED', message, { field: 'backupId', status: backup.status });
      }
      if (restore && restore.status !== 'running') return notRunning();
      return accept({ type: 'BackupRestoreStarted', data: { backupId, operationId, targetClusterId, node } });
    }
    case 'CompleteRestore': {
      if (restore?.status === 'completed') return accept();
      if (restore?.status !== 'running') return notRunning();
      const { backupId, targetClusterId } = restore;
      const data = { backupId, operationId, targetClusterId, durationMs: cmd.durationMs };
      return accept({ type: 'BackupRestoreCompleted', data });
    }
    case 'FailRestore': {
      if (restore?.status === 'failed') return accept();
      if (restore?.status !== 'running') return notRunning();
      const { backupId, targetClusterId } = restore;
      return accept({
        type: 'BackupRestoreFailed',
        data: { backupId, operationId, targetClusterId, reason: cmd.reason },
      });
    }
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
    case 'SetBackupSchedule': {
      const { cluster, at, tz } = cmd;
      if (!cluster.plan.backups.enabled) return notInPlan(cluster, '');
      return accept({ type: 'BackupScheduleSet', data: { clusterId: cluster.clusterId, at, tz } });
    }
    case 'ExpireBackups':
      return decideExpire(cmd.backupIds, state);
    case 'ApplyPlanQuota':
      return accept(...decidePlanQuota(cmd, state));
    case 'RetainBackups':
    case 'ExpireRetainedBackups':
      return decideDeleted(cmd, state);
    case 'StartBackup':
    case 'CompleteBackup':
    case 'FailBackup':
    case 'DeleteBackup':
      return decideOutcome(cmd, state);
    case 'StartRestore':
    case 'CompleteRestore':
    case 'FailRestore':
      return decideRestore(cmd, state);
    default: {
      const never: never = cmd;
      return never;
    }
  }
}

export const backupsDecider: Decider<BackupsState, BackupsCommand, BackupEvent> = {
  initialState: initialBackupsState(),
  evolve: evolveBackups,
  decide: decideBackups,
};
