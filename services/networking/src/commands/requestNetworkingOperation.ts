import {
  findOperation,
  foldClusterView,
  streamIds,
  type ClusterView,
  type CommandMeta,
  type CommandReply,
  type GatewaysState,
} from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { operationIdFor, requestOperation } from '@pgfleet/kit';
import type { NetworkingKind } from '../operations/executors.js';
import { loadGateways } from '../workers/recordGateways.js';

/** What a networking command decides on: the cluster view and its gateways, as recorded now. */
export async function readCluster(
  store: EventStore,
  clusterId: string,
): Promise<{ cluster: ClusterView; gateways: GatewaysState }> {
  const cluster = foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events);
  return { cluster, gateways: await loadGateways(store, clusterId) };
}

/**
 * The operation this request's `commandId` already asked for, when there is one of this kind
 * (a retried request gets the same operation back, running or ended, instead of a new decision).
 */
export function repeatedRequest(
  clusterId: string,
  cluster: ClusterView,
  kind: NetworkingKind,
  meta: CommandMeta,
): CommandReply | undefined {
  if (!meta.commandId) return undefined;
  const operation = findOperation(cluster.ops, operationIdFor(meta.commandId));
  if (operation?.kind !== kind) return undefined;
  const streamId = streamIds.cluster(clusterId);
  return { ok: true, streamId, version: cluster.version_, result: { operationId: operation.operationId, kind } };
}

/**
 * Ask for a networking operation on the cluster stream (expected version: one operation at a
 * time, OPERATION_IN_PROGRESS naming the running one otherwise). Replies at once with
 * `result: { operationId, kind }`; the service's executor runs it.
 */
export function requestNetworkingOperation(
  store: EventStore,
  clusterId: string,
  kind: NetworkingKind,
  params: Record<string, unknown>,
  meta: CommandMeta,
): Promise<CommandReply> {
  return requestOperation(store, clusterId, { kind, params }, meta);
}
