import type { EventEnvelope } from '@pgfleet/contracts';
import type { ProjectionDeclaration } from '@pgfleet/kit';

const PREFIX = 'gateway-';

/**
 * Clusters that have gateways recorded and not removed: what a restarted service checks again
 * (a gateway killed while it was down is started). In memory, fed from the store at every start.
 */
export class GatewayClusters {
  private readonly live = new Set<string>();

  apply(event: Pick<EventEnvelope, 'streamId' | 'type'>): void {
    if (!event.streamId.startsWith(PREFIX)) return;
    const clusterId = event.streamId.slice(PREFIX.length);
    if (event.type === 'GatewayStarted') this.live.add(clusterId);
    else if (event.type === 'GatewaysRemoved') this.live.delete(clusterId);
  }

  list(): string[] {
    return [...this.live];
  }
}

export const GATEWAY_CLUSTER_TYPES = ['GatewayStarted', 'GatewaysRemoved'] as const;

export function gatewayClustersProjection(clusters: GatewayClusters): ProjectionDeclaration {
  return { name: 'gateway-clusters', types: GATEWAY_CLUSTER_TYPES, apply: (event) => clusters.apply(event) };
}
