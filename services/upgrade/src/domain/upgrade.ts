import {
  followersOf,
  leaderOf,
  PostgresVersion,
  runningOperation,
  type ClusterView,
  type CommandData,
  type EventOfType,
} from '@pgfleet/contracts';
import { accept, type Decision } from '@pgfleet/kit';
import { z } from 'zod';

/**
 * The major upgrade's decisions, pure: whether a cluster may be upgraded (answered at once to
 * UpgradeCluster, nothing recorded when refused) and the ClusterUpgraded that ends it.
 */

/** The major-upgrade operation's params (OperationRequested.params). */
export const UpgradeParams = z.object({
  fromVersion: PostgresVersion,
  toVersion: PostgresVersion,
  checkOnly: z.boolean(),
});
export type UpgradeParams = z.infer<typeof UpgradeParams>;

export interface UpgradeRejection {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

/**
 * UpgradeCluster against the cluster view: a ready cluster with a running leader, on an older
 * major than `toVersion` (a downgrade or the same major is refused: a minor upgrade is a rolling
 * restart), with no operation running (the operation request would say so too, but not the name).
 */
export function decideUpgradeRequest(
  view: ClusterView,
  cmd: CommandData<'upgrade', 'UpgradeCluster'>,
): { ok: true; params: UpgradeParams } | { ok: false; rejection: UpgradeRejection } {
  const refuse = (code: string, message: string, field: string, details: Record<string, unknown> = {}) => ({
    ok: false as const,
    rejection: { code, message, details: { field, ...details } },
  });
  if (view.status === 'none') return refuse('CLUSTER_NOT_FOUND', `no cluster ${cmd.clusterId}`, 'clusterId');
  const name = view.name ?? cmd.clusterId;
  if (view.status !== 'ready') {
    return refuse('CLUSTER_NOT_READY', `cluster ${name} is ${view.status}, not ready for an upgrade`, 'clusterId');
  }
  const running = runningOperation(view.ops);
  if (running) {
    const message = `cluster ${name} has operation ${running.operationId} (${running.kind}) in progress`;
    return refuse('OPERATION_IN_PROGRESS', message, 'clusterId', { operationId: running.operationId });
  }
  const from = view.version;
  if (from === undefined || !leaderOf(view)?.provisioned) {
    return refuse('CLUSTER_NOT_READY', `cluster ${name} has no leader to upgrade`, 'clusterId');
  }
  if (cmd.toVersion === from) {
    const message = `cluster ${name} already runs PostgreSQL ${from}`;
    return refuse('ALREADY_ON_VERSION', message, 'toVersion', { version: from });
  }
  if (cmd.toVersion < from) {
    const message = `cluster ${name} runs PostgreSQL ${from}: a downgrade to ${cmd.toVersion} is not possible`;
    return refuse('DOWNGRADE_NOT_SUPPORTED', message, 'toVersion', { version: from });
  }
  const fenced = view.nodes.find((n) => n.fenced);
  if (fenced) {
    const message = `node ${fenced.nodeId} of cluster ${name} is fenced: let it rejoin before an upgrade`;
    return refuse('CLUSTER_NOT_READY', message, 'clusterId');
  }
  return { ok: true, params: { fromVersion: from, toVersion: cmd.toVersion, checkOnly: cmd.checkOnly } };
}

/** The nodes an upgrade acts on, as the `check` step records them. */
export function upgradeNodes(view: ClusterView): { leader: string; followers: { nodeId: string; port: number }[] } {
  const leader = leaderOf(view);
  if (!leader) throw new Error(`cluster ${view.name} has no leader`);
  const followers = followersOf(view).filter((f) => f.port !== undefined);
  return { leader: leader.nodeId, followers: followers.map((f) => ({ nodeId: f.nodeId, port: f.port! })) };
}

type Upgraded = EventOfType<'ClusterUpgraded'>;
export type RecordUpgraded = { type: 'RecordClusterUpgraded' } & Upgraded['data'];

/** ClusterUpgraded once per operation: recorded again (a resumed step), nothing is appended. */
export function decideClusterUpgraded(cmd: RecordUpgraded, view: ClusterView): Decision<Upgraded> {
  const { type: _type, ...data } = cmd;
  if (view.version === data.toVersion) return accept();
  return accept({ type: 'ClusterUpgraded', data });
}
