import { foldClusterView, runtimeNodeId, slotName, streamIds } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { nodeStatus, type NodeStatus } from '@pgfleet/postgres';
import type { NodeRuntime } from '@pgfleet/runtime';

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
  /** Where the runtime runs it (docker: its Docker host and container). */
  host?: string;
  container?: string;
}

interface Probed {
  view: NodeView;
  pg?: NodeStatus;
}

/** Live view of a cluster's nodes, like `patronictl list`: asks each server, not the history. */
export async function clusterStatus(
  deps: { store: EventStore; runtime: NodeRuntime },
  clusterId: string,
): Promise<NodeView[]> {
  const state = foldClusterView((await deps.store.readStream(streamIds.cluster(clusterId))).events);
  const probed = await Promise.all(
    state.nodes.map(async (node): Promise<Probed> => {
      const rid = runtimeNodeId(clusterId, node.nodeId);
      const [st, where] = await Promise.all([deps.runtime.status(rid), deps.runtime.hosts?.locate(rid)]);
      const view: NodeView = {
        ...{ nodeId: node.nodeId, role: 'unknown', state: st.state, port: node.port, pid: st.pid },
        ...(where ?? {}),
      };
      if (st.state !== 'running' || !node.provisioned || !node.port) return { view };
      const pg = await deps.runtime
        .endpoint(rid)
        .then(nodeStatus)
        .catch(() => undefined);
      if (!pg) return { view: { ...view, state: 'starting' } };
      const role = pg.inRecovery ? 'follower' : 'leader';
      return { view: { ...view, role, timeline: pg.timeline, lsn: pg.lsn ?? undefined }, pg };
    }),
  );
  const leader = probed.find((p) => p.pg && !p.pg.inRecovery);
  return probed.map(({ view }): NodeView => {
    if (view.role === 'leader') return { ...view, lagBytes: 0 };
    const r = leader?.pg?.standbys.find((x) => x.applicationName === slotName(view.nodeId));
    return r ? { ...view, lagBytes: r.lagBytes, sync: r.syncState } : { ...view, lagBytes: null };
  });
}
