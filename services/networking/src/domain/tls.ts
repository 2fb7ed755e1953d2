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

export type ExposeDecision = { ok: true; already: boolean } | { ok: false; rejection: Rejection };

/**
 * Whether a cluster may be opened to the outside: only a ready cluster whose nodes accept TLS
 * alone (the seed's rule: no plaintext password ever crosses a network). Pure; idempotent.
 */
export function decideExpose(cluster: ClusterView, gateways: GatewaysState): ExposeDecision {
  if (cluster.status === 'none') return { ok: false, rejection: { code: 'CLUSTER_NOT_FOUND', message: 'no such cluster', details: { field: 'clusterId' } } };
  if (cluster.status !== 'ready' || gateways.gateways.length === 0) return { ok: false, rejection: { code: 'NOT_READY', message: `cluster ${cluster.name} is ${cluster.status}, not ready` } };
  if (!gateways.tlsForced) {
    return { ok: false, rejection: {
      code: 'TLS_NOT_FORCED',
      message: `cluster ${cluster.name} can be exposed only once TLS is forced, so that no password crosses the network in clear: run "pgfleet cluster tls ${cluster.name} --force" first`,
      details: { field: 'clusterId', rule: 'tls_forced' },
    } };
  }
  return { ok: true, already: gateways.exposed !== undefined };
}

/** The extra certificate names a node needs while its cluster is exposed on an IP address. */
export function exposedCertNames(gateways: GatewaysState): { ipAddresses: string[] } {
  const a = gateways.exposed?.address;
  return { ipAddresses: a && /^[0-9.]+$/.test(a) && a !== '0.0.0.0' ? [a] : [] };
}
