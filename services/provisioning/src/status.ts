import { streamIds } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { nodeSocketDir, nodeStatus, type NodeStatus } from '@pgfleet/postgres';
import type { NodeRuntime } from '@pgfleet/runtime';
import { foldCluster } from './domain/cluster.js';
import { slotName } from './workers/reconcile.js';
import { runtimeNodeId } from './workers/nodeIds.js';

export interface NodeView {
  nodeId: string;
  role: 'leader' | 'follower' | 'unknown';
  state: 'running' | 'stopped' | 'missing' | 'starting';
  port?: number;
  pid?: number;
  timeline?: number;
  lsn?: string;
  /** Bytes the follower's replay is behind the leader's current WAL position. */
  lagBytes?: number | null;
  sync?: string;
}

/** Live view of a cluster's nodes, like `patronictl list`: asks each server, not the history. */
export async function clusterStatus(deps: { store: EventStore; runtime: NodeRuntime }, clusterId: string): Promise<NodeView[]> {
  const state = foldCluster((await deps.store.readStream(streamIds.cluster(clusterId))).events);
  const probed = await Promise.all(state.nodes.map(async (node): Promise<{ view: NodeView; pg?: NodeStatus }> => {
    const st = await deps.runtime.status(runtimeNodeId(clusterId, node.nodeId));
    const view: NodeView = { nodeId: node.nodeId, role: 'unknown', state: st.state, port: node.port, pid: st.pid };
    if (st.state !== 'running' || !node.dataDir || !node.port) return { view, pg: undefined };
    const pg = await nodeStatus({ host: nodeSocketDir(node.dataDir), port: node.port, user: 'postgres', database: 'postgres' }).catch(() => undefined);
    if (!pg) return { view: { ...view, state: 'starting' } };
    return { view: { ...view, role: pg.inRecovery ? 'follower' : 'leader', timeline: pg.timeline, lsn: pg.lsn ?? undefined }, pg };
  }));
  const leader = probed.find((p) => p.pg && !p.pg.inRecovery);
  return probed.map(({ view }): NodeView => {
    if (view.role === 'leader') return { ...view, lagBytes: 0 };
    const r = leader?.pg?.standbys.find((x) => x.applicationName === slotName(view.nodeId));
    return r ? { ...view, lagBytes: r.lagBytes, sync: r.syncState } : { ...view, lagBytes: null };
  });
}
