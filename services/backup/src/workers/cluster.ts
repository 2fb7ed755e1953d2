import {
  findPlan,
  followersOf,
  foldClusterView,
  leaderOf,
  runtimeNodeId,
  secretRefs,
  streamIds,
  type ClusterNode,
  type ClusterView,
} from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { withClient, type SecretStore } from '@pgfleet/postgres';
import type { NodeRuntime, ToolLogin } from '@pgfleet/runtime';
import type { ClusterFacts } from '../domain/backups.js';

/** The application database every cluster has. */
export const APP_DATABASE = 'app';
export const APP_ROLE = 'app';

/**
 * How pg_dump and pg_restore log in: as the app database's owner, with its password from the
 * secret store (never the superuser: what runs in the data path has the owner's rights only).
 * Throws when the password is not there.
 */
export async function ownerLogin(secrets: SecretStore, clusterId: string, view?: ClusterView): Promise<ToolLogin> {
  const password = await secrets.get(view?.secretRef ?? secretRefs.app(clusterId));
  if (!password)
    throw new Error(`the password of the ${APP_ROLE} role of cluster ${clusterId} is not in the secret store`);
  return { user: APP_ROLE, password };
}

/** The cluster as its `cluster-{clusterId}` stream tells it (the shared view from contracts). */
export async function loadCluster(store: EventStore, clusterId: string): Promise<ClusterView> {
  return foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events);
}

/** The cluster facts a backup decision needs, or undefined when there is no such cluster. */
export function clusterFacts(clusterId: string, view: ClusterView): ClusterFacts | undefined {
  const plan = view.plan ? findPlan(view.plan) : undefined;
  if (view.status === 'none' || !plan) return undefined;
  return { clusterId, name: view.name ?? clusterId, plan, ready: view.status === 'ready' };
}

/** Is a node running and, if so, is it in recovery (a follower)? Takes the runtime's node id. */
export type NodeProbe = (runtimeId: string) => Promise<'primary' | 'standby' | 'down'>;

/** Ask the node itself, through the runtime's superuser endpoint. */
export const probeNode =
  (runtime: NodeRuntime): NodeProbe =>
  async (runtimeId) => {
    try {
      const endpoint = await runtime.endpoint(runtimeId);
      const inRecovery = await withClient(
        endpoint,
        async (q) => (await q.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r,
      );
      return inRecovery ? 'standby' : 'primary';
    } catch {
      return 'down';
    }
  };

/**
 * The node `chooseDumpNode` picks when every node runs as the view says (the first follower on
 * plans that dump on one, else the leader): where a dump can start before the probes answer.
 */
export function likelyDumpNode(cluster: ClusterView, onFollower: boolean): ClusterNode | undefined {
  const candidates = onFollower ? [...followersOf(cluster), leaderOf(cluster)] : [leaderOf(cluster)];
  return candidates.find((n) => n?.provisioned && n.started);
}

export interface DumpNodeChoice {
  node: ClusterNode;
  /** Why the dump runs on the leader although the plan wants a follower. */
  onLeaderReason?: string;
}

/**
 * Where to dump: on plans that dump on a follower, the first follower that runs and is in
 * recovery; else the leader, with the reason. Undefined when the leader is gone too.
 */
export async function chooseDumpNode(
  clusterId: string,
  cluster: ClusterView,
  onFollower: boolean,
  probe: NodeProbe,
): Promise<DumpNodeChoice | undefined> {
  const stateOf = (n: ClusterNode) => (n.provisioned && n.started ? probe(runtimeNodeId(clusterId, n.nodeId)) : 'down');
  let onLeaderReason: string | undefined;
  if (onFollower) {
    const followers = followersOf(cluster);
    const why: string[] = [];
    for (const f of followers) {
      const state = await stateOf(f);
      if (state === 'standby') return { node: f };
      why.push(`${f.nodeId} is ${state === 'primary' ? 'not in recovery' : 'not running'}`);
    }
    onLeaderReason = followers.length === 0 ? 'the cluster has no follower' : `no healthy follower: ${why.join(', ')}`;
  }
  const leader = leaderOf(cluster);
  if (!leader || (await stateOf(leader)) === 'down') return undefined;
  return onLeaderReason ? { node: leader, onLeaderReason } : { node: leader };
}
