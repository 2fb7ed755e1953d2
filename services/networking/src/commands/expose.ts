import { streamIds, type CommandData, type CommandMeta, type CommandReply } from '@pgfleet/contracts';
import { decideExpose, decideUnexpose } from '../domain/tls.js';
import type { ExposeParams } from '../operations/expose.js';
import type { CommandDeps } from './deps.js';
import { readCluster, repeatedRequest, requestNetworkingOperation } from './requestNetworkingOperation.js';

export interface ExposeDeps extends CommandDeps {
  /** The non-loopback address to listen on (PGFLEET_EXPOSE_ADDRESS); fixed in the operation's params. */
  exposeAddress: string;
}

/**
 * ExposeCluster: checked at once (CLUSTER_NOT_FOUND, NOT_READY, TLS_NOT_FORCED), then an `expose`
 * operation is asked for (reply `{ operationId, kind }`): node certificates re-issued to name the
 * outside address, ClusterExposed, gateways listening on it. A cluster already exposed starts no
 * operation: it replies `{ address, port, changed: false }`.
 */
export async function exposeCluster(
  deps: ExposeDeps,
  cmd: CommandData<'networking', 'ExposeCluster'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  const { cluster, gateways } = await readCluster(deps.store, cmd.clusterId);
  const repeated = repeatedRequest(cmd.clusterId, cluster, 'expose', meta);
  if (repeated) return repeated;
  const decision = decideExpose(cluster, gateways);
  if (!decision.ok) return { ok: false, ...decision.rejection };
  if (decision.already) {
    const streamId = streamIds.gateway(cmd.clusterId);
    return { ok: true, streamId, version: gateways.version_, result: { ...gateways.exposed, changed: false } };
  }
  const params: ExposeParams = { address: deps.exposeAddress, nodes: decision.nodes.map((n) => n.nodeId) };
  return requestNetworkingOperation(deps.store, cmd.clusterId, 'expose', params, meta);
}

/**
 * UnexposeCluster: CLUSTER_NOT_FOUND for an unknown cluster; then an `unexpose` operation
 * (reply `{ operationId, kind }`): ClusterUnexposed, gateways on loopback only. A cluster that
 * is not exposed starts no operation: it replies `{ changed: false }`.
 */
export async function unexposeCluster(
  deps: CommandDeps,
  cmd: CommandData<'networking', 'UnexposeCluster'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  const { cluster, gateways } = await readCluster(deps.store, cmd.clusterId);
  const repeated = repeatedRequest(cmd.clusterId, cluster, 'unexpose', meta);
  if (repeated) return repeated;
  const decision = decideUnexpose(cluster, gateways);
  if (!decision.ok) return { ok: false, ...decision.rejection };
  if (decision.already) {
    const streamId = streamIds.gateway(cmd.clusterId);
    return { ok: true, streamId, version: gateways.version_, result: { changed: false } };
  }
  return requestNetworkingOperation(deps.store, cmd.clusterId, 'unexpose', {}, meta);
}
