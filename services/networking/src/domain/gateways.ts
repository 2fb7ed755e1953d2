import { entryPoint, evolveGateways, foldGateways, gatewayIds, initialGatewaysState, type GatewaysState } from '@pgfleet/contracts';

export { entryPoint, evolveGateways, foldGateways, gatewayIds, initialGatewaysState };
export type { GatewaysState };


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
