import type { DomainEvent, EventData, EventEnvelope } from '@pgfleet/contracts';

/** The `gateway-{clusterId}` aggregate: the gateways networking runs for one cluster. */
export interface GatewaysState {
  /** Started and not removed, by gateway id. */
  gateways: { gatewayId: string; host: string; port: number }[];
  /** The node every gateway forwards to, as last recorded. */
  leader?: string;
  removed: boolean;
  /** Only TLS over TCP is accepted on the cluster's nodes. */
  tlsForced: boolean;
  /** The non-loopback address the gateways also listen on, while the cluster is exposed. */
  exposed?: { address: string; port: number };
  /** Number of events folded: the expected version for the next append. */
  version_: number;
}

export const initialGatewaysState = (): GatewaysState => ({ gateways: [], removed: false, tlsForced: false, version_: 0 });

export function evolveGateways(state: GatewaysState, event: DomainEvent | EventEnvelope): GatewaysState {
  const next = { ...state, version_: state.version_ + 1 };
  switch (event.type) {
    case 'GatewayStarted': {
      const d = event.data as EventData<'GatewayStarted'>;
      return { ...next, removed: false, gateways: [...next.gateways.filter((g) => g.gatewayId !== d.gatewayId), { gatewayId: d.gatewayId, host: d.host, port: d.port }] };
    }
    case 'GatewayLeaderSet':
      return { ...next, leader: (event.data as EventData<'GatewayLeaderSet'>).leader };
    case 'TlsForced':
      return { ...next, tlsForced: true };
    case 'ClusterExposed': {
      const d = event.data as EventData<'ClusterExposed'>;
      return { ...next, exposed: { address: d.address, port: d.port } };
    }
    case 'ClusterUnexposed':
      return { ...next, exposed: undefined };
    case 'GatewaysRemoved':
      return { ...next, gateways: [], leader: undefined, removed: true, exposed: undefined };
    default:
      return next;
  }
}

export const foldGateways = (events: readonly (DomainEvent | EventEnvelope)[]) => events.reduce(evolveGateways, initialGatewaysState());

/** Gateway ids of a cluster: `gw1` (and `gw2` on plans with two gateways). */
export const gatewayIds = (count: number) => Array.from({ length: count }, (_, i) => `gw${i + 1}`);

/** The address the cluster's gateways serve: the one recorded, else none yet (the worker picks a free port once). */
export function entryPoint(state: GatewaysState): { host: string; port: number } | undefined {
  const g = state.gateways[0];
  return g ? { host: g.host, port: g.port } : undefined;
}

export type GatewayAction =
  | { kind: 'ensure'; gatewayIds: string[]; leader: string; nodes: { nodeId: string; port: number }[] }
  | { kind: 'remove'; gatewayIds: string[] }
  | { kind: 'none' };

/**
 * What the gateways of a cluster should be, given the cluster and what was recorded. Pure.
 * A ready cluster: every gateway of its plan running, forwarding to the leader. A deleted (or
 * deleting) cluster: no gateway. Anything else: leave them as they are.
 */
export function decideGateways(cluster: { status: string; leader?: string; nodes: { nodeId: string; port?: number }[] }, gatewayCount: number, state: GatewaysState): GatewayAction {
  if (cluster.status === 'deleted' || cluster.status === 'deleting') {
    return state.removed ? { kind: 'none' } : { kind: 'remove', gatewayIds: gatewayIds(gatewayCount) };
  }
  if (cluster.status !== 'ready' || !cluster.leader) return { kind: 'none' };
  const nodes = cluster.nodes.flatMap((n) => (n.port !== undefined ? [{ nodeId: n.nodeId, port: n.port }] : []));
  if (!nodes.some((n) => n.nodeId === cluster.leader)) return { kind: 'none' };
  return { kind: 'ensure', gatewayIds: gatewayIds(gatewayCount), leader: cluster.leader, nodes };
}
