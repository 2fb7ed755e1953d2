import { foldClusterView, streamIds } from '@pgfleet/contracts';
import type { CommandData, CommandMeta, CommandReply } from '@pgfleet/contracts';
import { decideRotateCertificates, exposedCertNames } from '../domain/tls.js';
import { loadGateways, recordGateways } from '../workers/recordGateways.js';
import { reissueNodeCerts } from '../workers/reissueNodeCerts.js';
import type { CommandDeps } from './deps.js';

/**
 * RotateCertificates: a new certificate per node from the same cluster CA (same names, plus the
 * outside address while exposed), replaced atomically in place and loaded by a reload of the
 * node: no restart, no session is cut, clients keep verifying with the same CA. Records
 * CertificatesRotated.
 */
export async function rotateCertificates(
  deps: CommandDeps,
  cmd: CommandData<'networking', 'RotateCertificates'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  const clusterEvents = (await deps.store.readStream(streamIds.cluster(cmd.clusterId))).events;
  const decision = decideRotateCertificates(foldClusterView(clusterEvents));
  if (!decision.ok) return { ok: false, ...decision.rejection };
  const gateways = await loadGateways(deps.store, cmd.clusterId);
  const notAfter = await reissueNodeCerts(deps, cmd.clusterId, decision.nodes, exposedCertNames(gateways).ipAddresses);
  const nodes = decision.nodes.map((n) => n.nodeId);
  const reply = await recordGateways(
    deps.store,
    cmd.clusterId,
    { type: 'RotateCertificates', nodes, notAfter },
    { ...meta, causationId: clusterEvents.at(-1)?.id ?? null },
  );
  return reply.ok ? { ...reply, result: { nodes, notAfter } } : reply;
}
