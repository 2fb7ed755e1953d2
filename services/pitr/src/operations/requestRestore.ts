import {
  findPlan,
  foldClusterView,
  pendingPitrBackup,
  foldPitr,
  streamIds,
  type CommandData,
  type CommandMeta,
  type CommandReply,
} from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { requestOperation } from '@pgfleet/kit';
import type { NodeRuntime } from '@pgfleet/runtime';
import { defaultRestoredName, type PitrRestoreParams } from './restoreParams.js';
import { loadRestoreWindow } from './window.js';

export interface RequestRestoreDeps {
  store: EventStore;
  runtime: NodeRuntime;
}

const rejection = (
  code: string,
  message: string,
  field: string,
  details: Record<string, unknown> = {},
): CommandReply => ({
  ok: false,
  code,
  message,
  details: { field, ...details },
});

const REASONS = { 'in-place-restore': 'an in-place restore', 'major-upgrade': 'a major upgrade' } as const;

/**
 * RestoreToTime, checked at once and answered at once; nothing is recorded when it is refused:
 * the cluster exists and its plan has PITR, `to` lies in the recoverable window (after the last
 * restart of the window, which the message names), and the restore goes either into a new
 * cluster (`into.name`, by default `{name}-restored-{time}`) or in place. Accepted, it is asked
 * for as a `pitr-restore` operation on the source cluster's stream (one operation per cluster:
 * OPERATION_IN_PROGRESS otherwise); the reply carries `{ operationId, kind, into?, targetTime }`.
 */
export async function requestRestoreToTime(
  deps: RequestRestoreDeps,
  cmd: CommandData<'pitr', 'RestoreToTime'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  const view = foldClusterView((await deps.store.readStream(streamIds.cluster(cmd.clusterId))).events);
  if (view.status === 'none') return rejection('CLUSTER_NOT_FOUND', `no cluster ${cmd.clusterId}`, 'clusterId');
  const name = view.name ?? cmd.clusterId;
  // A deleted cluster's archive is kept for the plan's window: it can still be restored into a new cluster.
  const deleted = view.status === 'deleted';
  if (view.status === 'deleting') return rejection('CLUSTER_DELETED', `cluster ${name} is being deleted`, 'clusterId');
  const plan = view.plan ? findPlan(view.plan) : undefined;
  if (!plan || plan.pitrDays === 0) {
    const message =
      `the ${view.plan} plan of cluster ${name} has no point-in-time recovery; ` +
      'change to a starter or business plan';
    return rejection('PITR_NOT_IN_PLAN', message, 'clusterId', { plan: view.plan });
  }
  if (cmd.inPlace && cmd.into) {
    return rejection('VALIDATION_FAILED', 'restore either into a new cluster or in place, not both', 'into');
  }
  if (deleted) {
    const removal = await archiveRemoval(deps.store, cmd.clusterId, name);
    if (removal) return removal;
    if (cmd.inPlace) {
      const message = `cluster ${name} is deleted: restore its archive into a new cluster (--into NEWNAME)`;
      return rejection('CLUSTER_DELETED', message, 'inPlace');
    }
  } else if (view.status !== 'ready') {
    return rejection('CLUSTER_NOT_READY', `cluster ${name} is ${view.status}, not ready for a restore`, 'clusterId');
  }
  const target = Date.parse(cmd.to);
  const { window, restart } = await loadRestoreWindow(deps, cmd.clusterId, view);
  if (restart && target < Date.parse(restart.at)) {
    const now = window ? `; the recoverable window is now [${window.earliest}, ${window.latest}]` : '';
    const message =
      `${cmd.to} is before ${restart.at}, when ${REASONS[restart.reason]} of cluster ${name} ` +
      `restarted its history${now}`;
    return rejection('PITR_TARGET_BEFORE_RESTART', message, 'to', { restartedAt: restart.at, reason: restart.reason });
  }
  if (!window) {
    const message = `cluster ${name} has no recoverable window yet: its first full backup has not completed`;
    return rejection('PITR_NO_WINDOW', message, 'to');
  }
  if (target < Date.parse(window.earliest) || target > Date.parse(window.latest)) {
    const message =
      `${cmd.to} is outside the recoverable window of cluster ${name}: ` + `[${window.earliest}, ${window.latest}]`;
    return rejection('PITR_TARGET_OUTSIDE_WINDOW', message, 'to', { ...window });
  }
  let params: PitrRestoreParams;
  if (cmd.inPlace) {
    const pending = pendingPitrBackup(foldPitr((await deps.store.readStream(streamIds.pitr(cmd.clusterId))).events));
    if (pending) {
      const message =
        `a full backup of cluster ${name} is ${pending.status} (${pending.backupId}); ` +
        'restore in place once it ends';
      return rejection('PITR_BACKUP_IN_PROGRESS', message, 'clusterId', { backupId: pending.backupId });
    }
    params = { targetTime: cmd.to, inPlace: true };
  } else {
    params = {
      targetTime: cmd.to,
      into: { name: cmd.into?.name ?? defaultRestoredName(name, cmd.to) },
      inPlace: false,
    };
  }
  const reply = await requestOperation(deps.store, cmd.clusterId, { kind: 'pitr-restore', params }, meta);
  if (!reply.ok) return reply;
  const into = params.inPlace ? {} : { into: params.into.name };
  return { ...reply, result: { ...reply.result, targetTime: cmd.to, inPlace: params.inPlace, ...into, window } };
}

/** The refusal for a deleted cluster whose archive is already gone (its plan's window has passed). */
async function archiveRemoval(store: EventStore, clusterId: string, name: string): Promise<CommandReply | undefined> {
  const pitr = foldPitr((await store.readStream(streamIds.pitr(clusterId))).events);
  if (!pitr.removed) return undefined;
  const when = pitr.removedAt ? ` on ${pitr.removedAt}` : '';
  const message = `cluster ${name} is deleted and its PITR archive was removed${when}, at the end of its plan's window`;
  return rejection('PITR_ARCHIVE_REMOVED', message, 'clusterId');
}
