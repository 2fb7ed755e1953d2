import {
  EVENT_TYPES,
  EVENTS,
  evolveClusterView,
  initialClusterView,
  isClusterEvent,
  streamCategory,
  type ClusterView,
  type EventEnvelope,
} from '@pgfleet/contracts';
import type { ProjectionDeclaration } from '@pgfleet/kit';

const CLUSTER_TYPES = EVENT_TYPES.filter((type) => EVENTS[type].category === 'cluster');

/**
 * Every cluster as its history tells it, kept in memory from the store's subscription (rebuilt
 * at every start): after a crash, the clusters whose work is under way are picked up again.
 */
export class UnfinishedClusters {
  private readonly clusters = new Map<string, ClusterView>();

  readonly projection: ProjectionDeclaration = {
    name: 'clusters',
    types: CLUSTER_TYPES,
    apply: (event: EventEnvelope) => {
      if (!isClusterEvent(event) || streamCategory(event.streamId) !== 'cluster') return;
      const clusterId = event.streamId.slice('cluster-'.length);
      this.clusters.set(clusterId, evolveClusterView(this.clusters.get(clusterId) ?? initialClusterView(), event));
    },
  };

  /** Clusters being provisioned or deleted. */
  list(): string[] {
    return [...this.clusters]
      .filter(([, view]) => view.status === 'provisioning' || view.status === 'deleting')
      .map(([clusterId]) => clusterId);
  }
}
