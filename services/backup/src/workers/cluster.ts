import { findPlan, streamIds } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { nodeSocketDir, withClient, type NodeConn } from '@pgfleet/postgres';
import { foldCluster, type ClusterState, type NodeState } from '@pgfleet/provisioning';
import type { ClusterFacts } from '../domain/backups.js';

/** The application database every cluster has. */
export const APP_DATABASE = 'app';
export const APP_ROLE = 'app';

export async function loadCluster(store: EventStore, clusterId: string): Promise<ClusterState> {
  return foldCluster((await store.readStream(streamIds.cluster(clusterId))).events);
}

/** The cluster facts a backup decision needs, or undefined when there is no such cluster. */
export function clusterFacts(clusterId: string, state: ClusterState): ClusterFacts | undefined {
  const plan = state.plan ? findPlan(state.plan) : undefined;
  if (state.status === 'none' || !plan) return undefined;
  return { clusterId, name: state.name ?? clusterId, plan, ready: state.status === 'ready' };
}

/** The superuser's connection to a node over its unix socket (trusted there). */
export function superuserConn(node: NodeState, database = 'postgres'): NodeConn {
  return { host: nodeSocketDir(node.dataDir!), port: node.port!, user: 'postgres', database };
}

/** Is a node running and, if so, is it in recovery (a follower)? */
export type NodeProbe = (node: NodeState) => Promise<'primary' | 'standby' | 'down'>;

export const probeNode: NodeProbe = async (node) => {
  if (!node.port || !node.dataDir) return 'down';
  try {
    return await withClient(superuserConn(node), async (q) => ((await q.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r ? 'standby' : 'primary'));
  } catch {
    return 'down';
  }
};

export interface DumpNodeChoice {
  node: NodeState;
  /** Why the dump runs on the leader although the plan wants a follower. */
  onLeaderReason?: string;
}

/**
 * Where to dump: on plans that dump on a follower, the first follower that runs and is in
 * recovery; else the leader, with the reason. Undefined when the leader is gone too.
 */
export async function chooseDumpNode(cluster: ClusterState, onFollower: boolean, probe: NodeProbe = probeNode): Promise<DumpNodeChoice | undefined> {
  const leader = cluster.nodes.find((n) => n.nodeId === cluster.leader);
  let onLeaderReason: string | undefined;
  if (onFollower) {
    const followers = cluster.nodes.filter((n) => n.nodeId !== cluster.leader);
    const why: string[] = [];
    for (const f of followers) {
      const state = f.started ? await probe(f) : 'down';
      if (state === 'standby') return { node: f };
      why.push(`${f.nodeId} is ${state === 'primary' ? 'not in recovery' : 'not running'}`);
    }
    onLeaderReason = followers.length === 0 ? 'the cluster has no follower' : `no healthy follower: ${why.join(', ')}`;
  }
  if (!leader || !leader.started || (await probe(leader)) === 'down') return undefined;
  return onLeaderReason ? { node: leader, onLeaderReason } : { node: leader };
}
