import type { CommandData, CommandMeta, CommandReply } from '@pgfleet/contracts';
import { decideRotateCertificates } from '../domain/tls.js';
import type { CertsRotateParams } from '../operations/certsRotate.js';
import type { CommandDeps } from './deps.js';
import { readCluster, repeatedRequest, requestNetworkingOperation } from './requestNetworkingOperation.js';

/**
 * RotateCertificates: checked at once (CLUSTER_NOT_FOUND, NOT_READY), then a `certs-rotate`
 * operation is asked for and the reply carries `{ operationId, kind }`; the operation gives every
 * node a new certificate from the same CA, loaded by a reload (no restart, no session cut), and
 * records CertificatesRotated. Every request rotates (there is no no-op).
 */
export async function rotateCertificates(
  deps: CommandDeps,
  cmd: CommandData<'networking', 'RotateCertificates'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  const { cluster } = await readCluster(deps.store, cmd.clusterId);
  const repeated = repeatedRequest(cmd.clusterId, cluster, 'certs-rotate', meta);
  if (repeated) return repeated;
  const decision = decideRotateCertificates(cluster);
  if (!decision.ok) return { ok: false, ...decision.rejection };
  const params: CertsRotateParams = { nodes: decision.nodes.map((n) => n.nodeId) };
  return requestNetworkingOperation(deps.store, cmd.clusterId, 'certs-rotate', params, meta);
}
