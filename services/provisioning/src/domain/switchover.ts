import { followersOf, type ClusterEvent, type ClusterView } from '@pgfleet/contracts';
import type { Decision } from '@pgfleet/kit';
import { startOperation, type OperationPlan } from './operations.js';

/** Ask for a switchover to `to` (default: the first follower), as operation `operationId`. */
export interface SwitchoverClusterCommand {
  type: 'SwitchoverCluster';
  operationId: string;
  to?: string;
}

/** What a switchover operation was asked to do (its OperationRequested params). */
interface SwitchoverParams {
  from: string;
  to: string;
}

/**
 * Whether a switchover may start, decided with the request itself (one append with the expected
 * version): OperationRequested {kind: 'switchover', params: {from, to}}. Refused while another
 * operation runs (OPERATION_IN_PROGRESS), on a cluster that is not ready, has no follower, or
 * when `to` is the leader or no node of it. The same operation id again records nothing. Pure.
 */
export function decideSwitchover(cmd: SwitchoverClusterCommand, state: ClusterView): Decision<ClusterEvent> {
  return startOperation(state, { operationId: cmd.operationId, kind: 'switchover' }, () => planSwitchover(cmd, state));
}

function planSwitchover(cmd: { to?: string }, state: ClusterView): OperationPlan {
  const no = (code: string, message: string, field?: string): OperationPlan => ({
    ok: false,
    rejection: { code, message, ...(field ? { details: { field } } : {}) },
  });
  const go = (params: SwitchoverParams): OperationPlan => ({ ok: true, params: { ...params }, events: [] });
  if (state.status === 'none') return no('CLUSTER_NOT_FOUND', 'no such cluster', 'clusterId');
  if (state.status !== 'ready') return no('NOT_READY', `cluster ${state.name} is ${state.status}, not ready`);
  const from = state.leader;
  const followers = followersOf(state);
  if (!from || followers.length === 0) {
    return no('NO_FOLLOWER', `cluster ${state.name} has no follower to hand leadership to (its plan has one node)`);
  }
  if (cmd.to === undefined) return go({ from, to: followers[0]!.nodeId });
  if (cmd.to === from) return no('ALREADY_LEADER', `${cmd.to} is already the leader of ${state.name}`, 'to');
  if (!followers.some((n) => n.nodeId === cmd.to)) {
    const names = followers.map((n) => n.nodeId).join(', ');
    return no('UNKNOWN_NODE', `${state.name} has no node ${cmd.to}; its followers are ${names}`, 'to');
  }
  return go({ from, to: cmd.to });
}
