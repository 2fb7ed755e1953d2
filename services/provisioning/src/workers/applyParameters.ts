import {
  findPlan,
  foldGateways,
  runtimeNodeId,
  streamIds,
  type ClusterView,
  type ParameterChange,
} from '@pgfleet/contracts';
import type { OperationRun } from '@pgfleet/kit';
import { withClient } from '@pgfleet/postgres';
import { nodeSetupOf } from '@pgfleet/runtime';
import { z } from 'zod';
import type { ReconcileDeps } from './reconcile.js';
import { fromStore, loadCluster } from './record.js';
import { rollingRestart, type failingAtStep } from './rollingRestart.js';

/** What `apply` found, and the leader and followers then: a resumed restart keeps that order. */
const Applied = z.object({ pendingRestart: z.array(z.string()), leader: z.string(), followers: z.array(z.string()) });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Apply parameter changes already in the cluster view (ClusterParametersChanged: every node's
 * configuration is rendered from it by `nodeSetupOf`) to every node, as steps of the operation
 * that made them (`config set`, an extension whose library is preloaded):
 *
 * 1. `apply`: every node's postgresql.conf written again and reloaded; once each has loaded it,
 *    PostgreSQL says which changed parameters wait for a restart (`pending_restart`).
 * 2. None: done, nothing restarted. Otherwise the rolling restart of `rollingRestart.ts` (fewer
 *    connections: the leader first), then `verify`: no parameter is pending a restart any more.
 */
export async function applyParameters(
  deps: ReconcileDeps,
  run: OperationRun,
  step: ReturnType<typeof failingAtStep>,
  changes: ParameterChange[],
) {
  const applied = Applied.parse(await step('apply', () => apply(deps, run.clusterId, changes)));
  if (applied.pendingRestart.length === 0) return { restarted: false };
  const { view } = await loadCluster(deps.store, run.clusterId);
  const { leader, followers } = applied;
  const connections = changes.find((c) => c.name === 'max_connections');
  const fewer = connections !== undefined && fewerConnections(connections, view);
  const done = await rollingRestart({ deps, run, step }, { leader, followers, leaderFirst: fewer });
  await step('verify', async () => {
    const pending = await pendingRestart(deps, view, changes);
    if (pending.length > 0) throw new Error(`still pending a restart after it: ${pending.join(', ')}`);
    return { pendingRestart: [] };
  });
  return { restarted: true, pendingRestart: applied.pendingRestart, nodes: done.restarted, leader: done.leader };
}

/** A lower max_connections than the running one (absent: the plan's, which the node runs with). */
function fewerConnections(change: ParameterChange, view: ClusterView): boolean {
  const planned = findPlan(view.plan ?? '')?.maxConnections ?? 0;
  return Number(change.new ?? planned) < Number(change.old ?? planned);
}

/** Write every node's configuration from the view and reload it; the changed parameters a node says need a restart. */
async function apply(deps: ReconcileDeps, clusterId: string, changes: ParameterChange[]) {
  const { view } = await loadCluster(deps.store, clusterId);
  const gateways = await fromStore('read', () => deps.store.readStream(streamIds.gateway(clusterId)));
  // A cluster whose TLS is forced keeps its hostssl-only pg_hba.conf (written with the configuration).
  const forceTls = foldGateways(gateways.events).tlsForced;
  for (const node of view.nodes) {
    const rid = runtimeNodeId(clusterId, node.nodeId);
    const endpoint = await deps.runtime.endpoint(rid);
    const loadedAt = async () =>
      (await withClient(endpoint, (q) => q.query<{ t: string }>('SELECT pg_conf_load_time()::text AS t'))).rows[0]!.t;
    const before = await loadedAt();
    await deps.runtime.configure(rid, {
      ...nodeSetupOf(view, node.nodeId, deps.home),
      ...(forceTls ? { forceTls } : {}),
    });
    // The reload is a signal: new sessions see the new configuration once the postmaster has read it.
    for (const deadline = Date.now() + 10_000; (await loadedAt()) === before; await sleep(50)) {
      if (Date.now() > deadline) throw new Error(`${node.nodeId} did not reload its configuration within 10 s`);
    }
  }
  const pending = await pendingRestart(deps, view, changes);
  const leader = view.leader!;
  const followers = view.nodes.map((n) => n.nodeId).filter((id) => id !== leader);
  return { nodes: view.nodes.map((n) => n.nodeId), pendingRestart: pending, leader, followers };
}

/** The changed parameters PostgreSQL applies only at a restart, on any node (`pg_settings.pending_restart`). */
async function pendingRestart(deps: ReconcileDeps, view: ClusterView, changes: ParameterChange[]): Promise<string[]> {
  const names = changes.map((c) => c.name);
  const pending = new Set<string>();
  for (const node of view.nodes) {
    const endpoint = await deps.runtime.endpoint(runtimeNodeId(view.clusterId!, node.nodeId));
    const sql = 'SELECT name FROM pg_settings WHERE pending_restart AND name = ANY($1)';
    const r = await withClient(endpoint, (q) => q.query<{ name: string }>(sql, [names]));
    for (const row of r.rows) pending.add(row.name);
  }
  return [...pending].sort();
}
