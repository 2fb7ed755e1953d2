import { followersOf, type ClusterView, type Rejection } from '@pgfleet/contracts';

export type SwitchoverDecision = { ok: true; from: string; to: string } | { ok: false; rejection: Rejection };

/** Whether a switchover to `to` (default: the first follower) may start. Pure. */
export function decideSwitchover(cmd: { to?: string }, state: ClusterView): SwitchoverDecision {
  const no = (code: string, message: string, field?: string): SwitchoverDecision => ({
    ok: false,
    rejection: { code, message, ...(field ? { details: { field } } : {}) },
  });
  if (state.status === 'none') return no('CLUSTER_NOT_FOUND', 'no such cluster', 'clusterId');
  if (state.status !== 'ready') return no('NOT_READY', `cluster ${state.name} is ${state.status}, not ready`);
  const from = state.leader;
  const followers = followersOf(state);
  if (!from || followers.length === 0) {
    return no('NO_FOLLOWER', `cluster ${state.name} has no follower to hand leadership to (its plan has one node)`);
  }
  if (cmd.to === undefined) return { ok: true, from, to: followers[0]!.nodeId };
  if (cmd.to === from) return no('ALREADY_LEADER', `${cmd.to} is already the leader of ${state.name}`, 'to');
  if (!followers.some((n) => n.nodeId === cmd.to)) {
    const names = followers.map((n) => n.nodeId).join(', ');
    return no('UNKNOWN_NODE', `${state.name} has no node ${cmd.to}; its followers are ${names}`, 'to');
  }
  return { ok: true, from, to: cmd.to };
}
