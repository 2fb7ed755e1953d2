import { runtimeNodeId, slotName, type ClusterNode } from '@pgfleet/contracts';
import { freePort } from '@pgfleet/postgres';
import type { NodeSetup, UpstreamLeader } from '@pgfleet/runtime';
import { placedOn } from './placement.js';
import type { ClusterProgress } from './record.js';
import type { ReconcileDeps } from './reconcile.js';

/**
 * A new cluster's followers as cold copies of its leader: their storage made while the leader's
 * initdb runs, then the leader's stopped data directory copied into each.
 */

/** Each follower's storage made anew for a cold copy (a half-done attempt's removed first): its port, or why not. */
export function makeFollowers(
  deps: ReconcileDeps,
  cluster: ClusterProgress,
  followers: readonly ClusterNode[],
  major: number,
): Promise<PromiseSettledResult<number>[]> {
  return Promise.allSettled(
    followers.map(async (f) => {
      const rid = runtimeNodeId(cluster.clusterId, f.nodeId);
      await deps.runtime.remove(rid).catch(() => undefined);
      const port = await freePort();
      await deps.runtime.create({ clusterId: cluster.clusterId, nodeId: rid, major, port, ...placedOn(cluster, f) });
      return port;
    }),
  );
}

/**
 * The followers of a new cluster made as copies of its leader's data directory, between the
 * leader's initdb and its first start, into the storage `makeFollowers` made. Returns them with
 * their ports, provisioned (their NodeProvisioned is recorded after the leader's: a crash before
 * leaves them to be cloned instead).
 */
export async function copyLeader(
  deps: ReconcileDeps,
  cluster: ClusterProgress,
  followers: readonly ClusterNode[],
  leaderRid: string,
  setupOf: (node: ClusterNode) => NodeSetup,
  leader: UpstreamLeader,
  storage: readonly PromiseSettledResult<number>[],
): Promise<ClusterNode[]> {
  const made = await Promise.allSettled(
    followers.map(async (f, i) => {
      const ready = storage[i];
      if (ready?.status !== 'fulfilled') throw ready?.reason ?? new Error(`no storage was made for ${f.nodeId}`);
      const rid = runtimeNodeId(cluster.clusterId, f.nodeId);
      const slot = slotName(f.nodeId);
      await deps.runtime.copyStopped(rid, { ...setupOf(f), sourceNodeId: leaderRid, leader, slotName: slot });
      return { ...f, port: ready.value, provisioned: true };
    }),
  );
  const failure = made.find((r) => r.status === 'rejected');
  if (failure === undefined) return made.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  // Not a failure of the cluster: the followers are cloned from the running leader instead.
  const reason = failure.reason instanceof Error ? failure.reason.message : String(failure.reason);
  deps.log.warn({ clusterId: cluster.clusterId, reason }, 'copying the new leader failed; cloning its followers');
  for (const f of followers)
    await deps.runtime.remove(runtimeNodeId(cluster.clusterId, f.nodeId)).catch(() => undefined);
  return [];
}
