import { join } from 'node:path';
import { streamIds, type CommandData, type CommandMeta, type CommandReply } from '@pgfleet/contracts';
import { WrongExpectedVersion, type EventStore } from '@pgfleet/eventstore';
import { certInfo, issueNodeCert, nodeSocketDir, withClient } from '@pgfleet/postgres';
import { clusterTlsDir, nodeCertNames } from '@pgfleet/provisioning';
import { foldClusterView } from '../domain/clusterView.js';
import { foldGateways } from '../domain/gateways.js';
import { decideRotateCertificates, exposedCertNames } from '../domain/tls.js';
import { NETWORKING_ACTOR } from '../workers/reconcileGateways.js';

/**
 * RotateCertificates: a new certificate per node from the same cluster CA (same names), replaced
 * atomically in place and loaded by a configuration reload: no restart, no session is cut, and
 * clients keep verifying with the same CA. Records CertificatesRotated.
 */
export async function rotateCertificates(deps: { store: EventStore; home: string }, cmd: CommandData<'networking', 'RotateCertificates'>, meta: CommandMeta): Promise<CommandReply> {
  const clusterEvents = (await deps.store.readStream(streamIds.cluster(cmd.clusterId))).events;
  const decision = decideRotateCertificates(foldClusterView(clusterEvents));
  if (!decision.ok) return { ok: false, ...decision.rejection };
  const streamId = streamIds.gateway(cmd.clusterId);
  const gateways = foldGateways((await deps.store.readStream(streamId)).events);
  const notAfter = await reissueNodeCerts(deps.home, cmd.clusterId, decision.nodes, exposedCertNames(gateways).ipAddresses);
  try {
    const res = await deps.store.appendToStream(streamId, [{
      type: 'CertificatesRotated', data: { nodes: decision.nodes.map((n) => n.nodeId), notAfter },
      actor: meta.actor ?? NETWORKING_ACTOR, correlationId: meta.correlationId, causationId: clusterEvents.at(-1)?.id ?? null,
    }], { expectedVersion: gateways.version_ });
    return { ok: true, streamId, version: res.nextExpectedVersion, result: { nodes: decision.nodes.map((n) => n.nodeId), notAfter } };
  } catch (error) {
    if (error instanceof WrongExpectedVersion) return { ok: false, code: 'CONFLICT', message: 'the gateways changed meanwhile; send the command again' };
    throw error;
  }
}

/**
 * New certificates for these nodes from the cluster's CA (its usual names plus `extraIps`),
 * replaced atomically and loaded with a reload. Returns the new certificates' expiry.
 */
export async function reissueNodeCerts(home: string, clusterId: string, nodes: readonly { nodeId: string; dataDir: string; port: number }[], extraIps: readonly string[] = []): Promise<string> {
  const caDir = clusterTlsDir(home, clusterId);
  const names = nodeCertNames(clusterId);
  let notAfter = '';
  for (const n of nodes) {
    const cert = await issueNodeCert({ caDir, outDir: join(caDir, 'nodes', n.nodeId), commonName: n.nodeId, ...names, ipAddresses: [...names.ipAddresses, ...extraIps] });
    notAfter = certInfo(cert.certFile).notAfter.toISOString();
    await withClient({ host: nodeSocketDir(n.dataDir), port: n.port, user: 'postgres', database: 'postgres' }, (q) => q.query('SELECT pg_reload_conf()'));
  }
  return notAfter;
}
