import {
  evolvePitr,
  findPitrBackup,
  initialPitrState,
  isPitrEvent,
  pendingPitrBackup,
  type PitrBackupKind,
  type PitrEvent,
  type PitrState,
  type Plan,
} from '@pgfleet/contracts';
import { accept, reject, type Decider, type Decision } from '@pgfleet/kit';
import { readArchiver, type ArchiverSample } from './archiver.js';

export { evolvePitr, foldPitr, initialPitrState } from '@pgfleet/contracts';
export type { PitrBackup, PitrEvent, PitrState } from '@pgfleet/contracts';

// ---- commands -------------------------------------------------------------------------------

/** What the cluster's own stream says, as the decisions need it. */
export interface PitrClusterFacts {
  clusterId: string;
  name: string;
  plan: Plan;
  ready: boolean;
  deleted: boolean;
}

/** The stanza exists and archiving works (the worker created and checked it); the first full backup follows. */
export interface EnableCommand {
  type: 'EnableContinuousBackup';
  cluster: PitrClusterFacts;
  stanza: string;
  /** The leader the stanza was created and checked on. */
  node: string;
  /** The first full backup's id (the domain has no randomness). */
  backupId: string;
  now: string;
}

export interface RequestCommand {
  type: 'RequestPitrBackup';
  cluster: PitrClusterFacts;
  backupId: string;
  kind: PitrBackupKind;
  now: string;
}

/** Worker outcomes, decided against the current state so a stale worker records nothing. */
export type OutcomeCommand =
  | { type: 'StartPitrBackup'; backupId: string; node: string; onLeaderReason?: string }
  | {
      type: 'CompletePitrBackup';
      backupId: string;
      label: string;
      startedAt: string;
      stopAt: string;
      size: number;
      durationMs: number;
    }
  | { type: 'FailPitrBackup'; backupId: string; reason: string }
  /** A backup a crash interrupted: failed, and asked for again as `retryId`. */
  | { type: 'RedoInterruptedBackup'; backupId: string; retryId: string; now: string };

/** After `expire`: the labels pgBackRest still holds; the completed backups not among them are gone. */
export interface ExpireCommand {
  type: 'RecordExpiredBackups';
  keptLabels: readonly string[];
  keepDays: number;
}

export interface ArchiverCommand {
  type: 'RecordArchiver';
  sample: ArchiverSample;
  thresholdSeconds: number;
}

/** The cluster was deleted at `deletedAt`: keep its archive for the plan's window. */
export interface RetainCommand {
  type: 'RetainArchive';
  cluster: PitrClusterFacts;
  deletedAt: string;
}

/** The retained archive was removed from the repository (the worker did it once `until` passed). */
export interface RemovedCommand {
  type: 'RecordArchiveRemoved';
  clusterId: string;
}

export type PitrCommand =
  | EnableCommand
  | RequestCommand
  | OutcomeCommand
  | ExpireCommand
  | ArchiverCommand
  | RetainCommand
  | RemovedCommand;

const DAY_MS = 86_400_000;
export const INTERRUPTED = 'interrupted: the pitr service stopped during the backup; it is taken again';

const notInPlan = (cluster: PitrClusterFacts) =>
  reject(
    'PITR_NOT_IN_PLAN',
    `the ${cluster.plan.id} plan of cluster ${cluster.name} has no point-in-time recovery;` +
      ' change to a starter or business plan',
    { field: 'clusterId', plan: cluster.plan.id },
  );

function decideEnable(cmd: EnableCommand, state: PitrState): Decision<PitrEvent> {
  const { cluster, stanza, node, backupId, now } = cmd;
  const { clusterId } = cluster;
  if (cluster.plan.pitrDays === 0) return notInPlan(cluster);
  if (cluster.deleted || state.retainedUntil !== undefined) {
    return reject('CLUSTER_DELETED', `cluster ${cluster.name} is deleted`, { field: 'clusterId' });
  }
  if (state.stanza !== undefined) return accept();
  return accept<PitrEvent>(
    { type: 'ContinuousBackupEnabled', data: { clusterId, stanza, node } },
    { type: 'PitrBackupRequested', data: { backupId, clusterId, kind: 'initial', requestedAt: now } },
  );
}

function decideRequest(cmd: RequestCommand, state: PitrState): Decision<PitrEvent> {
  const { cluster, backupId, kind, now } = cmd;
  if (cluster.plan.pitrDays === 0) return notInPlan(cluster);
  if (cluster.deleted || state.retainedUntil !== undefined) {
    return reject('CLUSTER_DELETED', `cluster ${cluster.name} is deleted`, { field: 'clusterId' });
  }
  if (findPitrBackup(state, backupId)) return accept();
  if (!cluster.ready || state.stanza === undefined) {
    const message = `cluster ${cluster.name} is not archiving its WAL yet; a full backup follows once it does`;
    return reject('PITR_NOT_READY', message, { field: 'clusterId' });
  }
  const pending = pendingPitrBackup(state);
  if (pending) {
    if (kind !== 'manual') return accept();
    const message = `a full backup of cluster ${cluster.name} is already ${pending.status} (${pending.backupId})`;
    return reject('PITR_BACKUP_IN_PROGRESS', message, { field: 'clusterId', backupId: pending.backupId });
  }
  const data = { backupId, clusterId: cluster.clusterId, kind, requestedAt: now };
  return accept({ type: 'PitrBackupRequested', data });
}

function decideOutcome(cmd: OutcomeCommand, state: PitrState): Decision<PitrEvent> {
  const { backupId } = cmd;
  const backup = findPitrBackup(state, backupId);
  if (!backup) return reject('PITR_BACKUP_NOT_FOUND', `no full backup ${backupId}`, { field: 'backupId' });
  const { status } = backup;
  const notPending = () =>
    reject('PITR_BACKUP_NOT_PENDING', `full backup ${backupId} is ${status}`, { field: 'backupId', status });
  switch (cmd.type) {
    case 'StartPitrBackup': {
      if (status !== 'requested') return notPending();
      const why = cmd.onLeaderReason ? { onLeaderReason: cmd.onLeaderReason } : {};
      return accept({ type: 'PitrBackupStarted', data: { backupId, node: cmd.node, ...why } });
    }
    case 'CompletePitrBackup': {
      if (status !== 'running') return notPending();
      const { label, startedAt, stopAt, size, durationMs } = cmd;
      return accept({ type: 'PitrBackupCompleted', data: { backupId, label, startedAt, stopAt, size, durationMs } });
    }
    case 'FailPitrBackup':
      if (status !== 'running' && status !== 'requested') return notPending();
      return accept({ type: 'PitrBackupFailed', data: { backupId, reason: cmd.reason } });
    case 'RedoInterruptedBackup': {
      if (status !== 'running') return notPending();
      const clusterId = state.clusterId ?? '';
      const again = { backupId: cmd.retryId, clusterId, kind: backup.kind, requestedAt: cmd.now };
      return accept<PitrEvent>(
        { type: 'PitrBackupFailed', data: { backupId, reason: INTERRUPTED } },
        ...(state.retainedUntil === undefined ? [{ type: 'PitrBackupRequested' as const, data: again }] : []),
      );
    }
    default: {
      const never: never = cmd;
      return never;
    }
  }
}

function decideExpired(cmd: ExpireCommand, state: PitrState): Decision<PitrEvent> {
  const kept = new Set(cmd.keptLabels);
  const labels = state.backups
    .filter((b) => b.status === 'completed' && b.label !== undefined && !kept.has(b.label))
    .map((b) => b.label!);
  if (labels.length === 0) return accept();
  return accept({ type: 'PitrBackupsExpired', data: { labels, keepDays: cmd.keepDays } });
}

/** Archiver health is recorded on transitions only: never one event per sample or per segment. */
function decideArchiver(cmd: ArchiverCommand, state: PitrState): Decision<PitrEvent> {
  if (state.stanza === undefined || state.retainedUntil !== undefined) return accept();
  const reading = readArchiver(cmd.sample, cmd.thresholdSeconds);
  if (reading.health === state.archiving.health) return accept();
  const last = cmd.sample.lastArchivedAt ? { lastArchivedAt: cmd.sample.lastArchivedAt } : {};
  switch (reading.health) {
    case 'ok':
      return accept({ type: 'WalArchivingRecovered', data: last });
    case 'delayed':
      return accept({ type: 'WalArchivingDelayed', data: { lagSeconds: reading.lagSeconds, ...last } });
    case 'failed': {
      const wal = cmd.sample.lastFailedWal ? { lastFailedWal: cmd.sample.lastFailedWal } : {};
      return accept({ type: 'WalArchivingFailed', data: { reason: reading.reason ?? 'failed', ...wal, ...last } });
    }
    default: {
      const never: never = reading.health;
      return never;
    }
  }
}

function decideRetain(cmd: RetainCommand, state: PitrState): Decision<PitrEvent> {
  if (state.stanza === undefined || state.retainedUntil !== undefined || state.removed) return accept();
  const until = new Date(Date.parse(cmd.deletedAt) + cmd.cluster.plan.pitrDays * DAY_MS).toISOString();
  return accept({ type: 'PitrArchiveRetained', data: { clusterId: cmd.cluster.clusterId, until } });
}

export function decidePitr(cmd: PitrCommand, state: PitrState): Decision<PitrEvent> {
  switch (cmd.type) {
    case 'EnableContinuousBackup':
      return decideEnable(cmd, state);
    case 'RequestPitrBackup':
      return decideRequest(cmd, state);
    case 'StartPitrBackup':
    case 'CompletePitrBackup':
    case 'FailPitrBackup':
    case 'RedoInterruptedBackup':
      return decideOutcome(cmd, state);
    case 'RecordExpiredBackups':
      return decideExpired(cmd, state);
    case 'RecordArchiver':
      return decideArchiver(cmd, state);
    case 'RetainArchive':
      return decideRetain(cmd, state);
    case 'RecordArchiveRemoved':
      if (state.retainedUntil === undefined || state.removed) return accept();
      return accept({ type: 'PitrArchiveRemoved', data: { clusterId: cmd.clusterId } });
    default: {
      const never: never = cmd;
      return never;
    }
  }
}

/** The `pitr-{clusterId}` aggregate. Events of that stream this view does not fold (a restore's) only count. */
export const pitrDecider: Decider<PitrState, PitrCommand, PitrEvent> = {
  initialState: initialPitrState(),
  evolve: (state, event) => (isPitrEvent(event) ? evolvePitr(state, event) : { ...state, version: state.version + 1 }),
  decide: decidePitr,
};
