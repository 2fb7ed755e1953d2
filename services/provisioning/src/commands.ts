import { randomBytes } from 'node:crypto';
import { findPlan, streamIds, type CommandData, type CommandMeta, type CommandReply } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { handleCommand, type CommandContext } from '@pgfleet/kit';
import { generatePassword, type SecretStore } from '@pgfleet/postgres';
import { clusterDecider, type ClusterCommand } from './domain/cluster.js';
import { namesDecider, type NamesCommand } from './domain/names.js';

export interface CommandDeps {
  store: EventStore;
  secrets: SecretStore;
}

export const appSecretRef = (clusterId: string) => `cluster/${clusterId}/app`;
export const replicationSecretRef = (clusterId: string) => `cluster/${clusterId}/replication`;

const onCluster = (store: EventStore, clusterId: string, command: ClusterCommand, meta: CommandContext) =>
  handleCommand({ store, streamId: streamIds.cluster(clusterId), ...clusterDecider, command, meta });

/** Reserve or release a cluster name in its account (`names-{accountId}`). */
export const onNames = (store: EventStore, command: NamesCommand, meta: CommandContext) =>
  handleCommand({ store, streamId: streamIds.names(command.accountId), ...namesDecider, command, meta });

/** CreateCluster: reserve the name in the account, keep the passwords in the secret store, then ClusterRequested. */
export async function createCluster(
  deps: CommandDeps,
  cmd: CommandData<'provisioning', 'CreateCluster'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  const plan = findPlan(cmd.plan);
  if (!plan) {
    return { ok: false, code: 'VALIDATION_FAILED', message: `unknown plan ${cmd.plan}`, details: { field: 'plan' } };
  }
  const clusterId = `${cmd.name}-${randomBytes(4).toString('hex')}`;
  const name = { accountId: cmd.accountId, name: cmd.name, clusterId };
  const reserved = await onNames(deps.store, { type: 'ReserveName', ...name }, meta);
  if (!reserved.ok) return reserved;
  const secretRef = appSecretRef(clusterId);
  await deps.secrets.put(secretRef, generatePassword());
  await deps.secrets.put(replicationSecretRef(clusterId), generatePassword());
  const reply = await onCluster(
    deps.store,
    clusterId,
    {
      type: 'CreateCluster',
      clusterId,
      name: cmd.name,
      accountId: cmd.accountId,
      plan: cmd.plan,
      version: cmd.version,
      dataNodes: plan.dataNodes,
      secretRef,
    },
    meta,
  );
  if (!reply.ok) {
    await onNames(deps.store, { type: 'ReleaseName', ...name }, meta);
    return reply;
  }
  return { ...reply, result: { clusterId, name: cmd.name } };
}

export function deleteCluster(
  deps: CommandDeps,
  cmd: CommandData<'provisioning', 'DeleteCluster'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  return onCluster(deps.store, cmd.clusterId, { type: 'DeleteCluster' }, meta);
}

export function retryCluster(
  deps: CommandDeps,
  cmd: CommandData<'provisioning', 'RetryCluster'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  return onCluster(deps.store, cmd.clusterId, { type: 'RetryCluster' }, meta);
}
