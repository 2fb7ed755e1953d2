import { leaderOf, type ClusterView, type CommandData, type CommandMeta, type CommandReply } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { requestOperation } from '@pgfleet/kit';
import { findBackup } from '../domain/backups.js';
import { loadCluster } from '../workers/cluster.js';
import { loadBackups } from '../workers/record.js';
import type { RestoreParams } from './restoreParams.js';

/**
 * RestoreBackup as it reaches the service: in place, into an existing cluster (`targetClusterId`),
 * or into a new cluster the operation creates (`into.name`, like the source: plan, version, account).
 */
export type RestoreRequest = CommandData<'backup', 'RestoreBackup'> & { into?: { name: string } };

const rejection = (code: string, message: string, field: string): CommandReply => ({
  ok: false,
  code,
  message,
  details: { field },
});

const readyToRestoreInto = (view: ClusterView) => view.status === 'ready' && leaderOf(view)?.provisioned === true;

/**
 * RestoreBackup: checked at once (the cluster, a completed backup, a ready target), then asked for
 * as a `restore` operation (one per cluster at a time: OPERATION_IN_PROGRESS otherwise; the same
 * `meta.commandId` asks for the same operation). The reply comes at once with
 * `result: { operationId, kind }`; the operation verifies the file, restores, and ends with the
 * restore's result (see restore.ts). On the stream of the cluster restored into, or, for a new
 * cluster that does not exist yet, on the source cluster's.
 */
export async function requestRestore(
  deps: { store: EventStore },
  cmd: RestoreRequest,
  meta: CommandMeta,
): Promise<CommandReply> {
  const source = await loadCluster(deps.store, cmd.clusterId);
  if (source.status === 'none') return rejection('CLUSTER_NOT_FOUND', `no cluster ${cmd.clusterId}`, 'clusterId');
  const backup = findBackup(await loadBackups(deps.store, cmd.clusterId), cmd.backupId);
  if (!backup) {
    const name = source.name ?? cmd.clusterId;
    return rejection('BACKUP_NOT_FOUND', `cluster ${name} has no backup ${cmd.backupId}`, 'backupId');
  }
  if (backup.status !== 'completed') {
    const message = `backup ${cmd.backupId} is ${backup.status}, not completed`;
    return rejection('BACKUP_NOT_COMPLETED', message, 'backupId');
  }
  const { backupId } = cmd;
  if (cmd.into) {
    if (cmd.targetClusterId) {
      return rejection('VALIDATION_FAILED', 'give either targetClusterId or into, not both', 'into');
    }
    const params: RestoreParams = { backupId, into: { name: cmd.into.name } };
    return requestOperation(deps.store, cmd.clusterId, { kind: 'restore', params }, meta);
  }
  const targetClusterId = cmd.targetClusterId ?? cmd.clusterId;
  const inPlace = targetClusterId === cmd.clusterId;
  const target = inPlace ? source : await loadCluster(deps.store, targetClusterId);
  if (!readyToRestoreInto(target)) {
    const message = `cluster ${target.name ?? targetClusterId} is not ready for a restore`;
    return rejection('CLUSTER_NOT_READY', message, inPlace ? 'clusterId' : 'targetClusterId');
  }
  const params: RestoreParams = inPlace ? { backupId } : { backupId, sourceClusterId: cmd.clusterId };
  return requestOperation(deps.store, targetClusterId, { kind: 'restore', params }, meta);
}
