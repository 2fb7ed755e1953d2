import { streamIds, type CommandData, type CommandMeta, type CommandReply } from '@pgfleet/contracts';
import { decideForceTls } from '../domain/tls.js';
import type { TlsForceParams } from '../operations/tlsForce.js';
import type { CommandDeps } from './deps.js';
import { readCluster, repeatedRequest, requestNetworkingOperation } from './requestNetworkingOperation.js';

/**
 * ForceTls: checked at once (CLUSTER_NOT_FOUND, NOT_READY), then a `tls-force` operation is asked
 * for and the reply carries `{ operationId, kind }`; the operation reconfigures every node to
 * accept TCP only over TLS and records TlsForced. Forcing a cluster already forced starts no
 * operation: it replies `{ tlsForced: true, changed: false }` on the gateway stream.
 */
export async function forceTls(
  deps: CommandDeps,
  cmd: CommandData<'networking', 'ForceTls'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  const { cluster, gateways } = await readCluster(deps.store, cmd.clusterId);
  const repeated = repeatedRequest(cmd.clusterId, cluster, 'tls-force', meta);
  if (repeated) return repeated;
  const decision = decideForceTls(cluster, gateways);
  if (!decision.ok) return { ok: false, ...decision.rejection };
  if (decision.already) {
    const streamId = streamIds.gateway(cmd.clusterId);
    return { ok: true, streamId, version: gateways.version_, result: { tlsForced: true, changed: false } };
  }
  const params: TlsForceParams = { nodes: decision.nodes.map((n) => n.nodeId) };
  return requestNetworkingOperation(deps.store, cmd.clusterId, 'tls-force', params, meta);
}
