import { randomBytes } from 'node:crypto';
import { findPlan, streamIds, type CommandData, type CommandMeta, type CommandReply } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { handleCommand } from '@pgfleet/kit';
import { generatePassword, type SecretStore } from '@pgfleet/postgres';
import { decideCreate, decideDelete, decideRetry, evolveCluster, initialClusterState } from './domain/cluster.js';
import { decideRelease, decideReserve, evolveNames, initialNamesState } from './domain/names.js';

export interface CommandDeps {
  store: EventStore;
  secrets: SecretStore;
}

export const appSecretRef = (clusterId: string) => `cluster/${clusterId}/app`;
export const replicationSecretRef = (clusterId: string) => `cluster/${clusterId}/replication`;

/** CreateCluster: reserve the name in the account, keep the passwords in the secret store, then ClusterRequested. */
export async function createCluster(deps: CommandDeps, cmd: CommandData<'provisioning', 'CreateCluster'>, meta: CommandMeta): Promise<CommandReply> {
  const plan = findPlan(cmd.plan);
  if (!plan) return { ok: false, code: 'VALIDATION_FAILED', message: `unknown plan ${cmd.plan}`, details: { field: 'plan' } };
  const clusterId = `${cmd.name}-${randomBytes(4).toString('hex')}`;
  const reserve = { accountId: cmd.accountId, name: cmd.name, clusterId };
  const reserved = await handleCommand({
    store: deps.store, streamId: streamIds.names(cmd.accountId), initialState: initialNamesState(), evolve: evolveNames,
    decide: (c: typeof reserve, s) => decideReserve(c, s), command: reserve, meta,
  });
  if (!reserved.ok) return reserved;
  const secretRef = appSecretRef(clusterId);
  await deps.secrets.put(secretRef, generatePassword());
  await deps.secrets.put(replicationSecretRef(clusterId), generatePassword());
  const reply = await handleCommand({
    store: deps.store, streamId: streamIds.cluster(clusterId), initialState: initialClusterState(), evolve: evolveCluster,
    decide: (c: typeof cmd, s) => decideCreate({ ...c, clusterId, dataNodes: plan.dataNodes, secretRef }, s), command: cmd, meta,
  });
  if (!reply.ok) {
    await handleCommand({ store: deps.store, streamId: streamIds.names(cmd.accountId), initialState: initialNamesState(), evolve: evolveNames,
      decide: (c: typeof reserve, s) => decideRelease(c, s), command: reserve, meta });
    return reply;
  }
  return { ...reply, result: { clusterId, name: cmd.name } };
}

export async function deleteCluster(deps: CommandDeps, cmd: CommandData<'provisioning', 'DeleteCluster'>, meta: CommandMeta): Promise<CommandReply> {
  return handleCommand({
    store: deps.store, streamId: streamIds.cluster(cmd.clusterId), initialState: initialClusterState(), evolve: evolveCluster,
    decide: (_c: typeof cmd, s) => decideDelete(s), command: cmd, meta,
  });
}

export async function retryCluster(deps: CommandDeps, cmd: CommandData<'provisioning', 'RetryCluster'>, meta: CommandMeta): Promise<CommandReply> {
  return handleCommand({
    store: deps.store, streamId: streamIds.cluster(cmd.clusterId), initialState: initialClusterState(), evolve: evolveCluster,
    decide: (_c: typeof cmd, s) => decideRetry(s), command: cmd, meta,
  });
}
