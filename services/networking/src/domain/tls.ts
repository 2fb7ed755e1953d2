import type { Rejection } from '@pgfleet/contracts';
import type { ClusterView } from './clusterView.js';
import type { GatewaysState } from './gateways.js';

export type ForceTlsDecision =
  | { ok: true; nodes: { nodeId: string; dataDir: string; port: number }[]; already: boolean }
  | { ok: false; rejection: Rejection };

/** Whether TLS can be forced on a cluster now, and on which nodes. Pure; forcing twice is a no-op. */
export function decideForceTls(cluster: ClusterView, gateways: GatewaysState): ForceTlsDecision {
  if (cluster.status === 'none') return { ok: false, rejection: { code: 'CLUSTER_NOT_FOUND', message: 'no such cluster', details: { field: 'clusterId' } } };
  if (cluster.status !== 'ready') return { ok: false, rejection: { code: 'NOT_READY', message: `cluster ${cluster.name} is ${cluster.status}, not ready` } };
  const nodes = cluster.nodes.flatMap((n) => (n.dataDir && n.port ? [{ nodeId: n.nodeId, dataDir: n.dataDir, port: n.port }] : []));
  return { ok: true, nodes, already: gateways.tlsForced };
}

export type NodesDecision = { ok: true; nodes: { nodeId: string; dataDir: string; port: number }[] } | { ok: false; rejection: Rejection };

/** Which nodes get new certificates: every provisioned node of a ready cluster. Pure. */
export function decideRotateCertificates(cluster: ClusterView): NodesDecision {
  const d = decideForceTls(cluster, { gateways: [], removed: false, tlsForced: false, version_: 0 });
  return d.ok ? { ok: true, nodes: d.nodes } : d;
}
