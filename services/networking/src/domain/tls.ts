import { initialGatewaysState, type ClusterView, type GatewaysState, type Rejection } from '@pgfleet/contracts';

/** A node as networking addresses it: by id (the runtime reaches it) and the port it serves. */
export interface NodeAddress {
  nodeId: string;
  port: number;
}

export type ForceTlsDecision =
  | { ok: true; nodes: NodeAddress[]; already: boolean }
  | { ok: false; rejection: Rejection };

const notFound = (): Rejection => ({
  code: 'CLUSTER_NOT_FOUND',
  message: 'no such cluster',
  details: { field: 'clusterId' },
});
const notReady = (cluster: ClusterView): Rejection => ({
  code: 'NOT_READY',
  message: `cluster ${cluster.name} is ${cluster.status}, not ready`,
});

/** Every provisioned node of the cluster, with its port. */
const provisionedNodes = (cluster: ClusterView): NodeAddress[] =>
  cluster.nodes.flatMap((n) => (n.provisioned && n.port !== undefined ? [{ nodeId: n.nodeId, port: n.port }] : []));

/** Whether TLS can be forced on a cluster now, and on which nodes. Pure; forcing twice is a no-op. */
export function decideForceTls(cluster: ClusterView, gateways: GatewaysState): ForceTlsDecision {
  if (cluster.status === 'none') return { ok: false, rejection: notFound() };
  if (cluster.status !== 'ready') return { ok: false, rejection: notReady(cluster) };
  return { ok: true, nodes: provisionedNodes(cluster), already: gateways.tlsForced };
}

export type NodesDecision = { ok: true; nodes: NodeAddress[] } | { ok: false; rejection: Rejection };

/** Which nodes get new certificates: every provisioned node of a ready cluster. Pure. */
export function decideRotateCertificates(cluster: ClusterView): NodesDecision {
  const d = decideForceTls(cluster, initialGatewaysState());
  return d.ok ? { ok: true, nodes: d.nodes } : d;
}

/** The refusal to open a cluster whose nodes still accept plaintext. */
export function tlsNotForced(clusterName: string | undefined): Rejection {
  const name = clusterName ?? 'this cluster';
  return {
    code: 'TLS_NOT_FORCED',
    message:
      `cluster ${name} can be exposed only once TLS is forced, so that no password crosses the network ` +
      `in clear: run "pgfleet cluster tls ${name} --force" first`,
    details: { field: 'clusterId', rule: 'tls_forced' },
  };
}

export type ExposeDecision =
  | { ok: true; already: boolean; nodes: NodeAddress[]; port: number }
  | { ok: false; rejection: Rejection };

/**
 * Whether a cluster may be opened to the outside: only a ready cluster whose nodes accept TLS
 * alone (the seed's rule: no plaintext password ever crosses a network). Pure; idempotent.
 * On yes: its nodes (their certificates must name the outside address) and the gateways' port.
 */
export function decideExpose(cluster: ClusterView, gateways: GatewaysState): ExposeDecision {
  if (cluster.status === 'none') return { ok: false, rejection: notFound() };
  const entry = gateways.gateways[0];
  if (cluster.status !== 'ready' || !entry) return { ok: false, rejection: notReady(cluster) };
  if (!gateways.tlsForced) return { ok: false, rejection: tlsNotForced(cluster.name) };
  return { ok: true, already: gateways.exposed !== undefined, nodes: provisionedNodes(cluster), port: entry.port };
}

export type UnexposeDecision = { ok: true; already: boolean } | { ok: false; rejection: Rejection };

/**
 * Whether a cluster can be closed to the outside: any cluster that exists (closing is always
 * allowed, ready or not); `already` when it is not exposed (nothing to do). Pure.
 */
export function decideUnexpose(cluster: ClusterView, gateways: GatewaysState): UnexposeDecision {
  if (cluster.status === 'none') return { ok: false, rejection: notFound() };
  return { ok: true, already: gateways.exposed === undefined };
}

/** The IP addresses a node certificate must add to be valid on this outside address (none for 0.0.0.0 or a name). */
export function certIpAddresses(address: string | undefined): string[] {
  return address && /^[0-9.]+$/.test(address) && address !== '0.0.0.0' ? [address] : [];
}

/** The extra certificate names a node needs while its cluster is exposed on an IP address. */
export function exposedCertNames(gateways: GatewaysState): { ipAddresses: string[] } {
  return { ipAddresses: certIpAddresses(gateways.exposed?.address) };
}
