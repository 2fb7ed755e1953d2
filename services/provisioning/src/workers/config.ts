import { ParameterChange } from '@pgfleet/contracts';
import { OperationFailure, type OperationExecutor } from '@pgfleet/kit';
import { z } from 'zod';
import { applyParameters } from './applyParameters.js';
import type { ReconcileDeps } from './reconcile.js';
import { failingAtStep } from './rollingRestart.js';

const Params = z.object({ changes: z.array(ParameterChange).min(1) });

/**
 * The config operation (`pgfleet config set`): its ClusterParametersChanged is already in the
 * cluster view, which every node's configuration is rendered from (`nodeSetupOf`); applied by
 * `applyParameters.ts`: a reload, or a rolling restart when PostgreSQL says one is pending.
 */
export function configExecutor(deps: ReconcileDeps): OperationExecutor {
  return async (run) => {
    const params = Params.safeParse(run.operation.params);
    if (!params.success) throw new OperationFailure('apply', 'the operation names no parameter changes');
    const { changes } = params.data;
    return { changes, ...(await applyParameters(deps, run, failingAtStep(run), changes)) };
  };
}
