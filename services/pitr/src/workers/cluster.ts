import {
  archiveStanzaOf,
  findPlan,
  followersOf,
  foldClusterView,
  leaderOf,
  runtimeNodeId,
  streamIds,
  type ClusterNode,
  type ClusterView,
} from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { withClient } from '@pgfleet/postgres';
import type { NodeRuntime } from '@pgfleet/runtime';
import type { PitrClusterFacts } from '../domain/pitr.js';

/** The cluster as its `cluster-{clusterId}` stream tells it (the shared view from contracts). */
export async function loadCluster(store: EventStore, clusterId: string): Promise<ClusterView> {
  return foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events);
}

/** The cluster facts a PITR decision needs, or undefined when there is no such cluster. */
export function pitrFacts(clusterId: string, view: ClusterView): PitrClusterFacts | undefined {
  const plan = view.plan ? findPlan(view.plan) : undefined;
  if (view.status === 'none' || !plan) return undefined;
  const deleted = view.status === 'deleted' || view.status === 'deleting';
  return { clusterId, name: view.name ?? clusterId, plan, ready: view.status === 'ready', deleted };
}

/** The stanza of a ready cluster whose plan has PITR, with its leader's runtime id; else undefined. */
export function archivedLeader(clusterId: string, view: ClusterView): { stanza: string; leader: string } | undefined {
  const stanza = archiveStanzaOf(view);
  const leader = leaderOf(view);
  if (stanza === undefined || view.status !== 'ready' || !leader) return undefined;
  return { stanza, leader: runtimeNodeId(clusterId, leader.nodeId) };
}

/** Is the node's server up, and a standby? Through the runtime's superuser endpoint. */
async function isStandby(runtime: NodeRuntime, runtimeId: string): Promise<boolean> {
  try {
    const endpoint = await runtime.endpoint(runtimeId);
    return await withClient(
      endpoint,
      async (q) => (await q.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r,
    );
  } catch {
    return false;
  }
}

export interface BackupNodeChoice {
  /** The node the files are copied from (a follower, or the leader). */
  node: ClusterNode;
  /** The standby's runtime id when the files come from a follower (pgBackRest --backup-standby). */
  standby?: string;
  onLeaderReason?: string;
}

/** Business backs up from a follower: the first running standby; else the leader, saying why. */
export async function chooseBackupNode(
  clusterId: string,
  view: ClusterView,
  onFollower: boolean,
  runtime: NodeRuntime,
): Promise<BackupNodeChoice | undefined> {
  const leader = leaderOf(view);
  if (!leader) return undefined;
  if (!onFollower) return { node: leader };
  const followers = followersOf(view).filter((n) => n.provisioned && n.started && !n.fenced);
  for (const f of followers) {
    const id = runtimeNodeId(clusterId, f.nodeId);
    if (await isStandby(runtime, id)) return { node: f, standby: id };
  }
  const onLeaderReason =
    followers.length === 0 ? 'the cluster has no running follower' : 'no follower is a running standby';
  return { node: leader, onLeaderReason };
}
