import {
  decideClusterOperation,
  evolveClusterView,
  initialClusterView,
  runningOperation,
  type ClusterEvent,
  type ClusterView,
  type Durability,
  type NodeHealth,
} from '@pgfleet/contracts';
import { accept, reject, type Decider, type Decision } from '@pgfleet/kit';

/**
 * The HA service's decisions on a cluster stream: who leads after a failure, node health,
 * synchronous replication and durability. Every one is decided on the current cluster view and
 * appended with its version as expected version, so two HA replicas that see the same failure
 * record one failover: the second one's decision is taken again on the new stream and refused.
 */
export type HaCommand =
  | {
      /** The leader is lost (or the user asks for a failover): FailoverStarted and the failover operation. */
      type: 'StartFailover';
      operationId: string;
      /** The leader the caller saw lost; refused when the cluster has another one by now. */
      from: string;
      /** The term the caller expects to start (view.term + 1): a stale decision is refused. */
      term: number;
      reason: string;
      /** Operation parameters: `to`, `acceptDataLoss`, the followers that streamed from the leader last. */
      params: Record<string, unknown>;
    }
  | {
      type: 'RecordNodeHealth';
      nodeId: string;
      health: NodeHealth;
      reason?: string;
      timeline?: number;
      lagBytes?: number;
    }
  | { type: 'RecordNodeRestarted'; nodeId: string; pid?: number; reason: string }
  | { type: 'RecordFailoverLeader'; from: string; to: string; term: number; timeline: number }
  | { type: 'RequestRejoin'; operationId: string; nodeId: string; reason: string }
  | { type: 'RecordNodeRejoined'; nodeId: string; leader: string; method: 'rewind' | 'clone'; timeline?: number }
  | { type: 'DegradeSync'; leader: string; reason: string }
  | { type: 'RestoreSync'; leader: string; synchronousStandbyNames: string }
  | { type: 'SetDurability'; durability: Durability };

type HaDecision = Decision<ClusterEvent>;

const nothing = (): HaDecision => accept();
const notFound = (): HaDecision => reject('CLUSTER_NOT_FOUND', 'no such cluster', { field: 'clusterId' });
const nodeOf = (view: ClusterView, nodeId: string) => view.nodes.find((n) => n.nodeId === nodeId);

/** An operation requested on the cluster (one at a time), with the events that go with it, in one append. */
function withOperation(
  view: ClusterView,
  operationId: string,
  kind: 'failover' | 'rejoin',
  params: Record<string, unknown>,
  before: ClusterEvent[] = [],
): HaDecision {
  const requested = decideClusterOperation({ type: 'RequestOperation', operationId, kind, params }, view);
  if (!requested.ok) return requested;
  if (requested.events.length === 0) return nothing(); // the same operation id again: done once
  return accept(...before, ...requested.events);
}

function decideStartFailover(cmd: Extract<HaCommand, { type: 'StartFailover' }>, view: ClusterView): HaDecision {
  if (view.status === 'none' || view.status === 'deleted') return notFound();
  if (view.status !== 'ready') {
    return reject('CLUSTER_NOT_READY', `cluster ${view.name} is ${view.status}: nothing to fail over`);
  }
  if (view.nodes.length < 2) {
    return reject('NO_FOLLOWER', `cluster ${view.name} has no follower to promote (plan ${view.plan})`);
  }
  if (view.leader !== cmd.from) {
    const message = `cluster ${view.name} is led by ${view.leader ?? 'nobody'} now, not by ${cmd.from}`;
    return reject('LEADER_CHANGED', message, { leader: view.leader ?? null });
  }
  if (cmd.term !== view.term + 1) {
    return reject('STALE_TERM', `term ${cmd.term} is not the next one (the cluster is at term ${view.term})`);
  }
  const params = { ...cmd.params, from: cmd.from, term: cmd.term };
  const started: ClusterEvent = {
    type: 'FailoverStarted',
    data: { operationId: cmd.operationId, term: cmd.term, from: cmd.from, reason: cmd.reason },
  };
  return withOperation(view, cmd.operationId, 'failover', params, [started]);
}

function decideHa(command: HaCommand, view: ClusterView): HaDecision {
  switch (command.type) {
    case 'StartFailover':
      return decideStartFailover(command, view);
    case 'RecordNodeHealth': {
      const node = nodeOf(view, command.nodeId);
      if (!node || view.status === 'deleted') return nothing();
      if (node.health === command.health) return nothing();
      const { nodeId, health, reason, timeline, lagBytes } = command;
      const data = {
        nodeId,
        health,
        ...(reason !== undefined ? { reason } : {}),
        ...(timeline !== undefined ? { timeline } : {}),
        ...(lagBytes !== undefined ? { lagBytes } : {}),
      };
      return accept({ type: 'NodeHealthChanged', data });
    }
    case 'RecordNodeRestarted': {
      if (!nodeOf(view, command.nodeId) || view.status !== 'ready') return nothing();
      const { nodeId, pid, reason } = command;
      return accept({ type: 'NodeRestarted', data: { nodeId, reason, ...(pid !== undefined ? { pid } : {}) } });
    }
    case 'RecordFailoverLeader': {
      const { from, to, term, timeline } = command;
      if (view.leader === to) return nothing();
      if (view.term !== term) return reject('STALE_TERM', `term ${term} is over (the cluster is at term ${view.term})`);
      return accept({ type: 'LeaderChanged', data: { from, to, reason: 'failover', term, timeline } });
    }
    case 'RequestRejoin': {
      const node = nodeOf(view, command.nodeId);
      if (!node || view.status !== 'ready') return nothing();
      if (view.leader === command.nodeId) return reject('IS_LEADER', `${command.nodeId} is the leader`);
      const params = { nodeId: command.nodeId, reason: command.reason };
      return withOperation(view, command.operationId, 'rejoin', params);
    }
    case 'RecordNodeRejoined': {
      const node = nodeOf(view, command.nodeId);
      if (!node) return nothing();
      if (view.leader !== command.leader) {
        return reject(
          'LEADER_CHANGED',
          `${command.leader} is no longer the leader; ${command.nodeId} must follow another`,
        );
      }
      const { nodeId, leader, method, timeline } = command;
      return accept({
        type: 'NodeRejoined',
        data: { nodeId, leader, method, ...(timeline !== undefined ? { timeline } : {}) },
      });
    }
    case 'DegradeSync': {
      if (view.status !== 'ready' || view.leader !== command.leader) return reject('LEADER_CHANGED', 'leader changed');
      if (view.durability !== 'available') {
        return reject('DURABILITY_STRICT', `cluster ${view.name} is strict: writes wait for a follower`);
      }
      // A failover in progress has cut the followers off on purpose: the leader must not go on alone.
      const running = runningOperation(view.ops);
      if (running) return reject('OPERATION_IN_PROGRESS', `operation ${running.operationId} (${running.kind}) runs`);
      if (view.syncDegradedAt !== undefined) return nothing();
      return accept({ type: 'SyncReplicationDegraded', data: { leader: command.leader, reason: command.reason } });
    }
    case 'RestoreSync': {
      if (view.leader !== command.leader || view.syncDegradedAt === undefined) return nothing();
      const { leader, synchronousStandbyNames } = command;
      return accept({ type: 'SyncReplicationRestored', data: { leader, synchronousStandbyNames } });
    }
    case 'SetDurability': {
      if (view.status === 'none' || view.status === 'deleted') return notFound();
      if (view.durability === command.durability) return nothing();
      return accept({ type: 'DurabilityChanged', data: { durability: command.durability } });
    }
    default: {
      const never: never = command;
      return never;
    }
  }
}

export const haDecider: Decider<ClusterView, HaCommand, ClusterEvent> = {
  initialState: initialClusterView(),
  evolve: evolveClusterView,
  decide: decideHa,
};
