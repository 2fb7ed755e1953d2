import { archiveSetupOf, findPlan, runtimeNodeId } from '@pgfleet/contracts';
import { OperationFailure, type OperationRun } from '@pgfleet/kit';
import { nodeTlsFiles } from '@pgfleet/postgres';
import { z } from 'zod';
import type { OperationDeps } from './deps.js';
import { loadTarget, nodeStep, parseParams, recordOutcome, requireRunning } from './steps.js';

/** `OperationRequested {kind: 'tls-force', params}`: the nodes to reconfigure (every provisioned node when asked). */
export const TlsForceParams = z.object({ nodes: z.array(z.string().min(1)).min(1) });
export type TlsForceParams = z.infer<typeof TlsForceParams>;

/**
 * tls-force: `configure:<nodeId>` per node (pg_hba.conf with `hostssl` only, reloaded: no
 * restart, open TLS sessions and replication carry on; plaintext is refused from then on), then
 * `record` (TlsForced through the gateways decider). Result: `{ tlsForced: true, changed: true }`.
 */
export async function runTlsForce(deps: OperationDeps, run: OperationRun): Promise<Record<string, unknown>> {
  const { nodes } = parseParams(TlsForceParams, run);
  const target = await loadTarget(deps.store, run);
  const configure = (nodeId: string) => `configure:${nodeId}`;
  await requireRunning(
    deps.runtime,
    run,
    nodes.map((nodeId) => ({ nodeId, step: configure(nodeId) })),
  );
  const plan = target.cluster.plan ? findPlan(target.cluster.plan) : undefined;
  for (const nodeId of nodes) {
    await nodeStep(run, configure(nodeId), async () => {
      if (!plan) throw new OperationFailure(configure(nodeId), `the cluster's plan ${target.cluster.plan} is unknown`);
      const tls = nodeTlsFiles(deps.home, run.clusterId, nodeId);
      // The whole configuration is rewritten: the node keeps archiving its WAL (PITR plans).
      const setup = { plan, tls, forceTls: true, ...archiveSetupOf(target.cluster) };
      await deps.runtime.configure(runtimeNodeId(run.clusterId, nodeId), setup);
      return undefined;
    });
  }
  await run.step('record', async () => {
    await recordOutcome(deps.store, run, target, { type: 'ForceTls', nodes });
    return undefined;
  });
  return { tlsForced: true, changed: true };
}
