import { Id, runtimeNodeId } from '@pgfleet/contracts';
import { OperationFailure, type OperationExecutor } from '@pgfleet/kit';
import { withClient } from '@pgfleet/postgres';
import { z } from 'zod';
import type { ReconcileDeps } from './reconcile.js';
import { loadCluster } from './record.js';
import { failingAtStep, rollingRestart } from './rollingRestart.js';

const Params = z.object({ leader: Id, followers: z.array(Id) });

/**
 * The restart operation (`pgfleet cluster restart`): `check` (the cluster is ready and led by the
 * leader of the request, a running primary; nothing is touched before), then the rolling restart
 * of `rollingRestart.ts`: Business restarts its followers one by one, switches over to one of
 * them and restarts the old leader, which stays a follower; one node restarts in place.
 */
export function restartExecutor(deps: ReconcileDeps): OperationExecutor {
  return async (run) => {
    const params = Params.safeParse(run.operation.params);
    if (!params.success) throw new OperationFailure('check', 'the operation does not name the leader and followers');
    const { leader, followers } = params.data;
    const step = failingAtStep(run);
    await step('check', () => checkLedBy(deps, run.clusterId, leader));
    const done = await rollingRestart({ deps, run, step }, { leader, followers });
    return { restarted: done.restarted, leader: done.leader, previousLeader: leader };
  };
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
