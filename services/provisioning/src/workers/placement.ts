import { placeNodes, type ClusterNode } from '@pgfleet/contracts';
import type { NodeRuntime } from '@pgfleet/runtime';
import type { ClusterProgress } from './record.js';

/**
 * Before a cluster's nodes are made: on a runtime with hosts to choose from (docker), the nodes not
 * placed yet are placed (`placeNodes`: distinct hosts when there are enough, least loaded first)
 * and each decision is recorded as NodePlaced. Nothing on the process runtime.
 */
export async function placeClusterNodes(runtime: NodeRuntime, cluster: ClusterProgress): Promise<void> {
  if (!runtime.hosts) return;
  const nodes = cluster.view.nodes;
  if (nodes.every((n) => n.host !== undefined)) return;
  const placed = nodes.flatMap((n) => (n.host === undefined ? [] : [{ nodeId: n.nodeId, host: n.host }]));
  const loads = await runtime.hosts.loads();
  const decided = placeNodes(
    nodes.map((n) => n.nodeId),
    loads,
    placed,
  );
  for (const { nodeId, host } of decided) await cluster.record({ type: 'RecordNodePlaced', nodeId, host });
}

/** The host placement chose for the node (NodePlaced), as a NodeSpec's `host`; none on a runtime without hosts. */
export const placedOn = (cluster: ClusterProgress, node: ClusterNode): { host?: string } => {
  const host = cluster.view.nodes.find((n) => n.nodeId === node.nodeId)?.host;
  return host === undefined ? {} : { host };
};
