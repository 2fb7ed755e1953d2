import {
  foldPitr,
  lastWindowRestart,
  leaderOf,
  restorableWindow,
  runtimeNodeId,
  streamIds,
  type ClusterView,
  type EventOfType,
  type PitrWindow,
} from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { handleCommand, accept, type Decision } from '@pgfleet/kit';
import { withClient } from '@pgfleet/postgres';
import type { NodeRuntime } from '@pgfleet/runtime';

type Restarted = EventOfType<'PitrWindowRestarted'>;

export interface RestoreWindow {
  window?: PitrWindow;
  /** The last time the cluster's history was cut (in-place restore, major upgrade). */
  restart?: Restarted['data'];
}

/** The newest WAL the leader archived (`pg_stat_archiver`), or undefined when it cannot be asked. */
async function lastArchivedAt(runtime: NodeRuntime, clusterId: string, view: ClusterView) {
  const leader = leaderOf(view);
  if (!leader) return undefined;
  try {
    const endpoint = await runtime.endpoint(runtimeNodeId(clusterId, leader.nodeId));
    return await withClient(endpoint, async (q) => {
      const sql = 'SELECT last_archived_time FROM pg_stat_archiver';
      const at = (await q.query<{ last_archived_time: Date | null }>(sql)).rows[0]?.last_archived_time;
      return at ? at.toISOString() : undefined;
    });
  } catch {
    return undefined;
  }
}

/**
 * Without a leader to ask (a deleted cluster, a leader down): the later of what the monitor last
 * recorded and when the newest WAL segment reached the repository.
 */
async function repositoryArchivedAt(runtime: NodeRuntime, clusterId: string, state: ReturnType<typeof foldPitr>) {
  const recorded = state.archiving.lastArchivedAt;
  const inRepo = await runtime.archive.info(clusterId).then(
    (i) => i.walMaxArchivedAt,
    () => undefined,
  );
  if (!recorded || !inRepo) return recorded ?? inRepo;
  return new Date(Math.max(Date.parse(recorded), Date.parse(inRepo))).toISOString();
}

/**
 * The window a restore of the cluster may target now: its `pitr-{clusterId}` stream (full backups,
 * the last restart) and the leader's last archived WAL (else the last one the monitor recorded).
 */
export async function loadRestoreWindow(
  deps: { store: EventStore; runtime: NodeRuntime },
  clusterId: string,
  view: ClusterView,
): Promise<RestoreWindow> {
  const { events } = await deps.store.readStream(streamIds.pitr(clusterId));
  const state = foldPitr(events);
  const restart = lastWindowRestart(events);
  const archived =
    (await lastArchivedAt(deps.runtime, clusterId, view)) ??
    (await repositoryArchivedAt(deps.runtime, clusterId, state));
  const window = restorableWindow(state, restart?.at, archived);
  return { ...(window ? { window } : {}), ...(restart ? { restart } : {}) };
}

type RestartCommand = { type: 'RecordWindowRestarted' } & Restarted['data'];

/** Once per operation: a second record of the same operation's restart appends nothing. */
function decideRestart(cmd: RestartCommand, state: { lastOperationId?: string }): Decision<Restarted> {
  const { type: _type, ...data } = cmd;
  if (data.operationId !== undefined && state.lastOperationId === data.operationId) return accept();
  return accept({ type: 'PitrWindowRestarted', data });
}

/**
 * Append PitrWindowRestarted to `pitr-{clusterId}` (with the expected version; the pitr decider
 * counts it and folds nothing).
 */
export async function recordWindowRestarted(store: EventStore, data: Restarted['data']) {
  return handleCommand<{ lastOperationId?: string }, RestartCommand, Restarted>({
    store,
    streamId: streamIds.pitr(data.clusterId),
    initialState: {},
    evolve: (s, e) => (e.type === 'PitrWindowRestarted' ? { lastOperationId: e.data.operationId } : s),
    decide: decideRestart,
    command: { type: 'RecordWindowRestarted', ...data },
    meta: { actor: { kind: 'service', id: 'pitr' }, ...(data.operationId ? { correlationId: data.operationId } : {}) },
  });
}
