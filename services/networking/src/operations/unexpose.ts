import type { OperationRun } from '@pgfleet/kit';
import type { OperationDeps } from './deps.js';
import { loadTarget, recordOutcome } from './steps.js';

/**
 * unexpose: `record` (ClusterUnexposed through the gateways decider; detail `{ changed }`), then
 * `gateways` (the gateways listen on loopback only again). Result: `{ changed }`.
 */
export async function runUnexpose(deps: OperationDeps, run: OperationRun): Promise<Record<string, unknown>> {
  const target = await loadTarget(deps.store, run);
  const recorded = await run.step('record', async () => {
    await recordOutcome(deps.store, run, target, { type: 'Unexpose' });
    return { changed: target.gateways.exposed !== undefined };
  });
  await run.step('gateways', async () => {
    await deps.reconcile(run.clusterId);
    return undefined;
  });
  return { changed: recorded?.changed ?? true };
}
