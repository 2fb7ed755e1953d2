import type { OperationRun } from '@pgfleet/kit';
import { z } from 'zod';
import { certIpAddresses } from '../domain/tls.js';
import { loadGateways } from '../workers/recordGateways.js';
import { reissueNodeCerts } from '../workers/reissueNodeCerts.js';
import type { OperationDeps } from './deps.js';
import { loadTarget, nodeStep, parseParams, recordOutcome, requireRunning } from './steps.js';

/** `OperationRequested {kind: 'expose', params}`: the outside address (chosen at the request) and the nodes. */
export const ExposeParams = z.object({ address: z.string().min(1), nodes: z.array(z.string().min(1)).min(1) });
export type ExposeParams = z.infer<typeof ExposeParams>;

/**
 * expose: `certificates` (every node certificate re-issued to also name the outside address, so
 * clients can verify-full against it, and reloaded; detail `{ notAfter }`), `record`
 * (ClusterExposed through the gateways decider; detail `{ address, port }`), `gateways` (the
 * gateways reloaded seamlessly to listen on the outside address too, same port).
 * Result: `{ address, port, changed: true }`.
 */
export async function runExpose(deps: OperationDeps, run: OperationRun): Promise<Record<string, unknown>> {
  const { address, nodes } = parseParams(ExposeParams, run);
  const target = await loadTarget(deps.store, run);
  await requireRunning(
    deps.runtime,
    run,
    nodes.map((nodeId) => ({ nodeId, step: 'certificates' })),
  );
  await nodeStep(run, 'certificates', async () => {
    const targets = nodes.map((nodeId) => ({ nodeId }));
    return { notAfter: await reissueNodeCerts(deps, run.clusterId, targets, certIpAddresses(address)) };
  });
  const exposed = await run.step('record', async () => {
    await recordOutcome(deps.store, run, target, { type: 'Expose', address, clusterName: target.cluster.name });
    const recorded = (await loadGateways(deps.store, run.clusterId)).exposed;
    return { address: recorded?.address ?? address, port: recorded?.port ?? target.gateways.gateways[0]?.port };
  });
  await run.step('gateways', async () => {
    await deps.reconcile(run.clusterId);
    return undefined;
  });
  return { address: exposed?.address ?? address, port: exposed?.port, changed: true };
}
