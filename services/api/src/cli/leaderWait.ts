import { type EventOfType, streamIds } from '@pgfleet/contracts';
import type { Accepted, OperationEnd, Settle } from './operationWait.js';

/** How long the CLI waits, once a leader change succeeded, for the gateways to forward to the new leader. */
const GATEWAY_WAIT_MS = 30_000;

/**
 * After an operation that moves leadership (failover): done when the gateways forward to the new
 * leader, as `GatewayLeaderSet` on the gateway stream says, 30 s at most. The new leader is the
 * operation's `result.to`, else the `LeaderChanged` seen on the cluster stream while following it.
 */
export function followLeaderChange() {
  let gatewayLeader: string | null = null;
  let leaderChanged: EventOfType<'LeaderChanged'>['data'] | undefined;
  const newLeader = (end: OperationEnd) =>
    typeof end.result.to === 'string' ? end.result.to : (leaderChanged?.to ?? undefined);
  const settle = (): Settle => ({
    observe: (e) => {
      if (e.type === 'GatewayLeaderSet') gatewayLeader = e.data.leader;
      if (e.type === 'LeaderChanged') leaderChanged = e.data;
    },
    // An operation that named no new leader has nothing for the gateways to follow.
    settled: (end) => {
      const to = newLeader(end);
      return to === undefined || gatewayLeader === to;
    },
    timeoutMs: GATEWAY_WAIT_MS,
  });
  return {
    extraStreams: (a: Accepted) => (a.clusterId ? [streamIds.gateway(a.clusterId)] : []),
    settle,
    /** The node the gateways forward to, as last seen (null: none seen since the request). */
    gatewayLeader: () => gatewayLeader,
    /** The leader change seen on the cluster stream while following (from, to, term, timeline). */
    leaderChanged: () => leaderChanged,
  };
}
