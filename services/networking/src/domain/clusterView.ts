import type { DomainEvent, EventData, EventEnvelope } from '@pgfleet/contracts';

/** What networking needs to know of a cluster, folded from its `cluster-{clusterId}` stream. */
export interface ClusterView {
  status: 'none' | 'provisioning' | 'ready' | 'failed' | 'deleting' | 'deleted';
  name?: string;
  plan?: string;
  /** Every data node with the port it listens on (once provisioned). */
  nodes: { nodeId: string; port?: number; dataDir?: string }[];
  leader?: string;
}

export const initialClusterView = (): ClusterView => ({ status: 'none', nodes: [] });

export function evolveClusterView(view: ClusterView, event: DomainEvent | EventEnvelope): ClusterView {
  switch (event.type) {
    case 'ClusterRequested': {
      const d = event.data as EventData<'ClusterRequested'>;
      return { status: 'provisioning', name: d.name, plan: d.plan, nodes: d.nodes.map((n) => ({ nodeId: n.nodeId })), leader: d.nodes.find((n) => n.role === 'leader')?.nodeId };
    }
    case 'NodeProvisioned': {
      const d = event.data as EventData<'NodeProvisioned'>;
      return { ...view, nodes: view.nodes.map((n) => (n.nodeId === d.nodeId ? { ...n, port: d.port, dataDir: d.dataDir } : n)) };
    }
    case 'NodeStarted': {
      const d = event.data as EventData<'NodeStarted'>;
      return { ...view, nodes: view.nodes.map((n) => (n.nodeId === d.nodeId ? { ...n, port: d.port } : n)) };
    }
    case 'ClusterReady':
      return { ...view, status: 'ready', leader: (event.data as EventData<'ClusterReady'>).leader };
    case 'ClusterProvisioningFailed':
      return { ...view, status: 'failed' };
    case 'ClusterProvisioningRetried':
      return { ...view, status: 'provisioning' };
    case 'ClusterDeletionRequested':
      return { ...view, status: 'deleting' };
    case 'ClusterDeleted':
      return { ...view, status: 'deleted' };
    case 'LeaderChanged':
      return { ...view, leader: (event.data as EventData<'LeaderChanged'>).to };
    default:
      return view;
  }
}

export const foldClusterView = (events: readonly (DomainEvent | EventEnvelope)[]) => events.reduce(evolveClusterView, initialClusterView());
