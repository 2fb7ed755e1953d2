import { findPlan, followersOf, type ClusterEvent, type ClusterView } from '@pgfleet/contracts';
import type { Decision } from '@pgfleet/kit';
import { startOperation, type OperationPlan } from './operations.js';

/**
 * Restart every node of the cluster, as operation `operationId` (kind 'restart'); `minor-upgrade`
 * (`upgrade --minor`) records every node's server_version before and after.
 */
export interface RestartClusterCommand {
  type: 'RestartCluster';
  operationId: string;
  reason?: 'restart' | 'minor-upgrade';
}

/** Refused (nothing recorded) unless the cluster is ready and every node runs as a member. Pure. */
export function membersRunning(state: ClusterView, what: string): OperationPlan | undefined {
  const no = (code: string, message: string, details: Record<string, unknown> = {}): OperationPlan => ({
    ok: false,
    rejection: { code, message, details },
  });
  if (state.status === 'none') return no('CLUSTER_NOT_FOUND', 'no such cluster', { field: 'clusterId' });
  if (state.status !== 'ready' || !state.leader || !state.plan || !findPlan(state.plan)) {
    return no('NOT_READY', `cluster ${state.name} is ${state.status}, not ready: ${what}`);
  }
  const down = state.nodes.filter((n) => !n.started || n.fenced).map((n) => n.nodeId);
  if (down.length > 0) {
    const nodes = down.join(', ');
    const message = `cluster ${state.name} has nodes that do not run as members (${nodes}): try again once they do`;
    return no('NOT_READY', message, { nodes: down });
  }
  return undefined;
}

/**
 * Whether a rolling restart may start, decided with the request itself (one append with the
 * expected version): OperationRequested {kind: 'restart', params: {leader, followers, reason?}}. The
 * followers restart one by one, then a switchover to the first, then the old leader; a cluster
 * without followers restarts its leader in place. Pure.
 */
export function decideRestart(cmd: RestartClusterCommand, state: ClusterView): Decision<ClusterEvent> {
  return startOperation(state, { operationId: cmd.operationId, kind: 'restart' }, () => {
    const minor = cmd.reason === 'minor-upgrade';
    const refused = membersRunning(state, minor ? 'its minor version cannot be upgraded now' : 'it cannot restart now');
    if (refused) return refused;
    const followers = followersOf(state).map((n) => n.nodeId);
    const reason = minor ? { reason: 'minor-upgrade' } : {};
    return { ok: true, params: { leader: state.leader!, followers, ...reason }, events: [] };
  });
}
