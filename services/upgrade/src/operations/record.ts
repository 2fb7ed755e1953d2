import {
  evolveClusterView,
  initialClusterView,
  isClusterEvent,
  streamIds,
  type ClusterEvent,
  type ClusterView,
  type EventOfType,
} from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { accept, handleCommand, type Decision } from '@pgfleet/kit';
import { decideClusterUpgraded, type RecordUpgraded } from '../domain/upgrade.js';

const ACTOR = { kind: 'service' as const, id: 'upgrade' };

/** Append ClusterUpgraded to the cluster's stream (the view's `version` becomes `toVersion`); once. */
export function recordClusterUpgraded(store: EventStore, clusterId: string, data: Omit<RecordUpgraded, 'type'>) {
  return handleCommand<ClusterView, RecordUpgraded, EventOfType<'ClusterUpgraded'>>({
    store,
    streamId: streamIds.cluster(clusterId),
    initialState: initialClusterView(),
    evolve: (view, e) => (isClusterEvent(e) ? evolveClusterView(view, e as ClusterEvent) : view),
    decide: decideClusterUpgraded,
    command: { type: 'RecordClusterUpgraded', ...data },
    meta: { actor: ACTOR, correlationId: data.operationId },
  });
}

type Restarted = EventOfType<'PitrWindowRestarted'>;
type RestartCommand = { type: 'RecordWindowRestarted' } & Restarted['data'];

/** Once per operation: the same operation's restart recorded again appends nothing. */
function decideRestart(cmd: RestartCommand, state: { operationIds: string[] }): Decision<Restarted> {
  const { type: _type, ...data } = cmd;
  if (data.operationId !== undefined && state.operationIds.includes(data.operationId)) return accept();
  return accept({ type: 'PitrWindowRestarted', data });
}

/**
 * PitrWindowRestarted {reason: 'major-upgrade'} on `pitr-{clusterId}` (the pitr view counts it and
 * folds nothing): a restore to a time before `at` is refused from now on, naming the upgrade.
 */
export function recordWindowRestarted(store: EventStore, data: Restarted['data']) {
  return handleCommand<{ operationIds: string[] }, RestartCommand, Restarted>({
    store,
    streamId: streamIds.pitr(data.clusterId),
    initialState: { operationIds: [] },
    evolve: (s, e) =>
      e.type === 'PitrWindowRestarted' && e.data.operationId
        ? { operationIds: [...s.operationIds, e.data.operationId] }
        : s,
    decide: decideRestart,
    command: { type: 'RecordWindowRestarted', ...data },
    meta: { actor: ACTOR, ...(data.operationId ? { correlationId: data.operationId } : {}) },
  });
}
