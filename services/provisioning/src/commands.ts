import { randomBytes } from 'node:crypto';
import {
  archiveStanzaOf,
  findOperation,
  foldClusterView,
  findPlan,
  runningOperation,
  runtimeNodeId,
  secretRefs,
  streamIds,
  type CommandData,
  type CommandMeta,
  type CommandReply,
  type OperationKind,
} from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { handleCommand, operationIdFor, type CommandContext } from '@pgfleet/kit';
import { generatePassword, withClient, type SecretStore } from '@pgfleet/postgres';
import type { NodeRuntime } from '@pgfleet/runtime';
import { clusterDecider, type ClusterCommand } from './domain/cluster.js';
import { namesDecider, type NamesCommand } from './domain/names.js';

export interface CommandDeps {
  store: EventStore;
  secrets: SecretStore;
  /** To measure a cluster's data before a plan change (its disk check). */
  runtime?: NodeRuntime;
}

export const { app: appSecretRef, replication: replicationSecretRef } = secretRefs;

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
  if (cmd.restoreFrom) {
    const refused = await refusedSource(deps.store, cmd);
    if (refused) return refused;
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
      durability: cmd.durability,
      ...(cmd.restoreFrom ? { restoreFrom: cmd.restoreFrom } : {}),
    },
    meta,
  );
  if (!reply.ok) {
    await onNames(deps.store, { type: 'ReleaseName', ...name }, meta);
    return reply;
  }
  return { ...reply, result: { clusterId, name: cmd.name } };
}

/**
 * A fork's source must be a cluster whose plan archives WAL, of the same major version (its
 * archive holds that version's data). A deleted source is fine: its archive outlives it for the
 * plan's window. Whether the time is inside the window is pgBackRest's to say (the restore fails
 * with its reason).
 */
async function refusedSource(
  store: EventStore,
  cmd: CommandData<'provisioning', 'CreateCluster'>,
): Promise<CommandReply | undefined> {
  const sourceId = cmd.restoreFrom?.clusterId ?? '';
  const source = foldClusterView((await store.readStream(streamIds.cluster(sourceId))).events);
  const field = 'restoreFrom.clusterId';
  if (source.status === 'none') {
    return { ok: false, code: 'CLUSTER_NOT_FOUND', message: `no such cluster ${sourceId}`, details: { field } };
  }
  if (archiveStanzaOf(source) === undefined) {
    const message = `cluster ${source.name} (plan ${source.plan}) has no point-in-time recovery archive`;
    return { ok: false, code: 'PITR_NOT_AVAILABLE', message, details: { field, plan: source.plan } };
  }
  if (source.version !== cmd.version) {
    const message =
      `the archive of cluster ${source.name} holds PostgreSQL ${source.version} data: ` +
      `create the new cluster with version ${source.version}`;
    return { ok: false, code: 'VERSION_MISMATCH', message, details: { field: 'version', version: source.version } };
  }
  return undefined;
}

/**
 * DeleteCluster: the operation 'delete' and ClusterDeletionRequested in one append (refused with
 * OPERATION_IN_PROGRESS while another operation runs); replies at once with `{operationId, kind}`
 * (a deletion already under way is named); the teardown worker ends it.
 */
export function deleteCluster(
  deps: CommandDeps,
  cmd: CommandData<'provisioning', 'DeleteCluster'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  return startOperation(deps.store, cmd.clusterId, 'delete', meta, (operationId) => ({
    type: 'DeleteCluster',
    operationId,
  }));
}

/**
 * RetryCluster: the operation 'retry' and ClusterProvisioningRetried;
 * ended when the cluster is ready or failed again.
 */
export function retryCluster(
  deps: CommandDeps,
  cmd: CommandData<'provisioning', 'RetryCluster'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  return startOperation(deps.store, cmd.clusterId, 'retry', meta, (operationId) => ({
    type: 'RetryCluster',
    operationId,
  }));
}

/**
 * SwitchoverCluster: only decided here (the pre-check and OperationRequested {from, to} in one
 * append with the expected version, so of two concurrent requests one is OPERATION_IN_PROGRESS);
 * the operation runs in `workers/switchover.ts`. Replies at once with `{operationId, kind}`.
 */
export function switchoverCluster(
  deps: CommandDeps,
  cmd: CommandData<'provisioning', 'SwitchoverCluster'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  return startOperation(deps.store, cmd.clusterId, 'switchover', meta, (operationId) => ({
    type: 'SwitchoverCluster',
    operationId,
    ...(cmd.to === undefined ? {} : { to: cmd.to }),
  }));
}

/**
 * ChangePlan: the data measured on the leader (a plan whose disk is smaller is refused with both
 * sizes), then only decided here (OperationRequested {from, to, change, nodes} and the NodeAdded of
 * new followers in one append); the operation runs in `workers/planChange.ts`. Replies at once.
 */
export async function changePlan(
  deps: CommandDeps,
  cmd: CommandData<'provisioning', 'ChangePlan'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  const view = foldClusterView((await deps.store.readStream(streamIds.cluster(cmd.clusterId))).events);
  const dataBytes = view.status === 'ready' ? await dataSize(deps, cmd.clusterId, view.leader) : undefined;
  return startOperation(deps.store, cmd.clusterId, 'plan-change', meta, (operationId) => ({
    type: 'ChangePlan',
    operationId,
    plan: cmd.plan,
    ...(dataBytes === undefined ? {} : { dataBytes }),
  }));
}

/**
 * RestartCluster: only decided here (OperationRequested {leader, followers, reason?}); runs in
 * `workers/restart.ts` (a minor upgrade is this rolling restart, recording server_version before and after).
 */
export function restartCluster(
  deps: CommandDeps,
  cmd: CommandData<'provisioning', 'RestartCluster'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  return startOperation(deps.store, cmd.clusterId, 'restart', meta, (operationId) => ({
    type: 'RestartCluster',
    operationId,
    reason: cmd.reason,
  }));
}

/**
 * SetClusterParameters: validated against the allow-list and the plan, then OperationRequested
 * {changes} with ClusterParametersChanged in one append; applied by `workers/config.ts`.
 */
export function setClusterParameters(
  deps: CommandDeps,
  cmd: CommandData<'provisioning', 'SetClusterParameters'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  return startOperation(deps.store, cmd.clusterId, 'config', meta, (operationId) => ({
    type: 'SetClusterParameters',
    operationId,
    parameters: cmd.parameters,
  }));
}

/**
 * EnableExtension / DisableExtension: checked against the allow-list and the cluster's extensions,
 * then OperationRequested {extension, changes} (with ClusterParametersChanged for a library to
 * preload) in one append; run by `workers/extensions.ts`.
 */
export function changeExtension(
  deps: CommandDeps,
  cmd: CommandData<'provisioning', 'EnableExtension'>,
  enable: boolean,
  meta: CommandMeta,
): Promise<CommandReply> {
  const kind = enable ? 'extension-enable' : 'extension-disable';
  return startOperation(deps.store, cmd.clusterId, kind, meta, (operationId) => ({
    type: enable ? 'EnableExtension' : 'DisableExtension',
    operationId,
    extension: cmd.extension,
  }));
}

/** The size of every database of the cluster's leader, in bytes; undefined when it cannot be asked. */
async function dataSize(deps: CommandDeps, clusterId: string, leader?: string): Promise<number | undefined> {
  if (!deps.runtime || !leader) return undefined;
  try {
    const endpoint = await deps.runtime.endpoint(runtimeNodeId(clusterId, leader));
    const sql = 'SELECT sum(pg_database_size(oid))::text AS bytes FROM pg_database';
    const target = { ...endpoint, connectTimeoutMs: 3000, queryTimeoutMs: 10_000 };
    return Number((await withClient(target, (q) => q.query<{ bytes: string }>(sql))).rows[0]?.bytes);
  } catch {
    return undefined;
  }
}

/**
 * Decide a command that starts an operation (its id derived from the client's command id, so a
 * retried request starts nothing twice) and reply with the operation that carries it out.
 */
async function startOperation(
  store: EventStore,
  clusterId: string,
  kind: OperationKind,
  meta: CommandMeta,
  command: (operationId: string) => ClusterCommand,
): Promise<CommandReply> {
  const operationId = operationIdFor(meta.commandId);
  const reply = await onCluster(store, clusterId, command(operationId), meta);
  if (!reply.ok) return reply;
  const { ops } = foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events);
  // Accepted without a new operation: the one of this kind under way (a deletion) carries it out.
  const running = runningOperation(ops);
  const started = findOperation(ops, operationId) ?? (running?.kind === kind ? running : undefined);
  return { ...reply, result: { operationId: started?.operationId ?? operationId, kind } };
}
