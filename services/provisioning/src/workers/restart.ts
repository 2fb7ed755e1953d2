import { Id, runtimeNodeId } from '@pgfleet/contracts';
import { OperationFailure, type OperationExecutor } from '@pgfleet/kit';
import { withClient } from '@pgfleet/postgres';
import { z } from 'zod';
import type { ReconcileDeps } from './reconcile.js';
import { loadCluster } from './record.js';
import { failingAtStep, rollingRestart } from './rollingRestart.js';

const Params = z.object({
  leader: Id,
  followers: z.array(Id),
  reason: z.enum(['restart', 'minor-upgrade']).default('restart'),
});
const Versions = z.object({ versions: z.record(z.string(), z.string()) });

/**
 * The restart operation (`pgfleet cluster restart`): `check` (the cluster is ready and led by the
 * leader of the request, a running primary; nothing is touched before), then the rolling restart
 * of `rollingRestart.ts`: Business restarts its followers one by one, switches over to one of
 * them and restarts the old leader, which stays a follower; one node restarts in place.
 *
 * A minor upgrade (`reason: 'minor-upgrade'`, `pgfleet upgrade NAME --minor`) is this restart:
 * each node starts again on the binaries installed for its major version. It records every node's
 * server_version before (`versions-before`) and after (`versions-after`); its result lists them.
 */
export function restartExecutor(deps: ReconcileDeps): OperationExecutor {
  return async (run) => {
    const params = Params.safeParse(run.operation.params);
    if (!params.success) throw new OperationFailure('check', 'the operation does not name the leader and followers');
    const { leader, followers, reason } = params.data;
    const step = failingAtStep(run);
    await step('check', () => checkLedBy(deps, run.clusterId, leader));
    const all = [leader, ...followers];
    const versions = (name: string) => step(name, () => serverVersions(deps, run.clusterId, all));
    const before = reason === 'minor-upgrade' ? Versions.parse(await versions('versions-before')) : undefined;
    const done = await rollingRestart({ deps, run, step }, { leader, followers });
    const restarted = { restarted: done.restarted, leader: done.leader, previousLeader: leader };
    if (!before) return restarted;
    const after = Versions.parse(await versions('versions-after'));
    const nodes = all.map((nodeId) => ({
      nodeId,
      before: before.versions[nodeId] ?? 'unknown',
      after: after.versions[nodeId] ?? 'unknown',
    }));
    return { ...restarted, minorUpgrade: { nodes, upgraded: nodes.some((n) => n.before !== n.after) } };
  };
}

/** Every node's server_version (e.g. `15.14 (Debian 15.14-0+deb12u1)`), as it answers now. */
async function serverVersions(deps: ReconcileDeps, clusterId: string, nodeIds: readonly string[]) {
  const versions: Record<string, string> = {};
  for (const nodeId of nodeIds) {
    const endpoint = await deps.runtime.endpoint(runtimeNodeId(clusterId, nodeId));
    const sql = "SELECT current_setting('server_version') AS v";
    versions[nodeId] = (await withClient(endpoint, (q) => q.query<{ v: string }>(sql))).rows[0]!.v;
  }
  return { versions };
}

/** The cluster is ready and led by `leader`, which runs as a primary. */
async function checkLedBy(deps: ReconcileDeps, clusterId: string, leader: string): Promise<Record<string, unknown>> {
  const { view } = await loadCluster(deps.store, clusterId);
  if (view.status !== 'ready') throw new OperationFailure('check', `cluster ${view.name} is not ready`);
  if (view.leader !== leader) {
    throw new OperationFailure('check', `cluster ${view.name} is led by ${view.leader ?? 'nobody'}, not ${leader}`);
  }
  const endpoint = await deps.runtime.endpoint(runtimeNodeId(clusterId, leader));
  const r = await withClient(endpoint, (q) => q.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'));
  if (r.rows[0]?.r !== false) throw new OperationFailure('check', `${leader} is not running as a primary`);
  return { leader };
}
