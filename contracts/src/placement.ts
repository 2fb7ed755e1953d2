/**
 * Where a cluster's nodes go when the runtime has several hosts: a pure decision (the provisioning
 * service records it as NodePlaced before it makes a node).
 */

/** A host the runtime can place nodes on, with the number of nodes (of every cluster) it holds now. */
export interface HostLoad {
  host: string;
  nodes: number;
}

export interface NodePlacement {
  nodeId: string;
  host: string;
}

/**
 * Place `nodes` (in order: the leader first) on `hosts`. Each node goes to the host holding the
 * fewest nodes of this cluster so far (the ones in `placed` included), then the least loaded one,
 * then by name: a cluster's nodes are on distinct hosts when there are as many hosts as nodes (a
 * Business cluster's three data nodes on three hosts), else spread as evenly as the hosts allow.
 * A node already in `placed` keeps its host. No host: nothing is placed.
 */
export function placeNodes(
  nodes: readonly string[],
  hosts: readonly HostLoad[],
  placed: readonly NodePlacement[] = [],
): NodePlacement[] {
  if (hosts.length === 0) return [];
  const load = new Map(hosts.map((h) => [h.host, h.nodes]));
  const ours = new Map(hosts.map((h) => [h.host, 0]));
  for (const p of placed) if (ours.has(p.host)) ours.set(p.host, ours.get(p.host)! + 1);
  const decided: NodePlacement[] = [];
  for (const nodeId of nodes) {
    if (placed.some((p) => p.nodeId === nodeId)) continue;
    const [best] = [...hosts].sort(
      (a, b) =>
        ours.get(a.host)! - ours.get(b.host)! || load.get(a.host)! - load.get(b.host)! || a.host.localeCompare(b.host),
    );
    const host = best!.host;
    ours.set(host, ours.get(host)! + 1);
    load.set(host, load.get(host)! + 1);
    decided.push({ nodeId, host });
  }
  return decided;
}
