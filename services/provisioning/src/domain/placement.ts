import type { ClusterEvent, ClusterView } from '@pgfleet/contracts';
import { accept, reject, type Decision } from '@pgfleet/kit';

/** The placement worker's outcome: the node goes to `host` (decided by `placeNodes` before it is made). */
export interface RecordNodePlaced {
  type: 'RecordNodePlaced';
  nodeId: string;
  host: string;
}

/**
 * A node is placed while it is still to be made: the cluster is provisioning (or a plan change adds
 * it) and the node is not provisioned. The same host again records nothing; another host for a
 * node already placed or provisioned is refused (a node never moves).
 */
export function decidePlaced(cmd: RecordNodePlaced, state: ClusterView): Decision<ClusterEvent> {
  if (state.status === 'none') return reject('CLUSTER_NOT_FOUND', 'no such cluster', { field: 'clusterId' });
  const node = state.nodes.find((n) => n.nodeId === cmd.nodeId);
  if (!node) return reject('UNKNOWN_NODE', `cluster ${state.name} has no node ${cmd.nodeId}`, { field: 'nodeId' });
  if (node.host === cmd.host) return accept();
  if (node.host !== undefined || node.provisioned) {
    const where = node.host ?? 'its first host';
    return reject('NODE_ALREADY_PLACED', `${node.nodeId} of cluster ${state.name} is already on ${where}`, {
      nodeId: node.nodeId,
    });
  }
  if (state.status !== 'provisioning' && state.status !== 'ready') {
    return reject('NOT_PROVISIONING', `cluster ${state.name} is ${state.status}, not provisioning`, {
      status: state.status,
    });
  }
  return accept({ type: 'NodePlaced', data: { nodeId: node.nodeId, host: cmd.host } });
}
