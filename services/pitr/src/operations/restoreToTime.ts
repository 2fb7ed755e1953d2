import { foldClusterView, streamIds } from '@pgfleet/contracts';
import { createTargetCluster, OperationFailure, waitUntilReady, type OperationExecutor } from '@pgfleet/kit';
import { z } from 'zod';
import type { PitrRestoreDeps } from './deps.js';
import { restoreInPlace } from './restoreInPlace.js';
import { PitrRestoreParams } from './restoreParams.js';

const Created = z.object({ targetClusterId: z.string(), targetName: z.string() });

/**
 * The `pitr-restore` operation, on the source cluster's stream. Into a new cluster (the source is
 * neither fenced nor stopped): `create-target` asks provisioning for a cluster like the source
 * whose leader is restored from the source's archive to the target time (resumably: the same
 * command id asks for the same cluster), `target-ready` waits until it is a full cluster
 * (followers, gateways, its own passwords and archiving). In place: see restoreInPlace.ts.
 */
export function restoreToTimeOperation(deps: PitrRestoreDeps): OperationExecutor {
  return async (run) => {
    const parsed = PitrRestoreParams.safeParse(run.operation.params);
    if (!parsed.success) throw new OperationFailure('check', `invalid restore params: ${parsed.error.message}`);
    const params = parsed.data;
    if (params.inPlace) return restoreInPlace(deps, run, params.targetTime);

    const { targetTime } = params;
    const name = params.into.name;
    const restoreFrom = { clusterId: run.clusterId, targetTime };
    const create = async () => {
      const source = foldClusterView((await deps.store.readStream(streamIds.cluster(run.clusterId))).events);
      return createTargetCluster(deps, run.operation.operationId, source, name, { restoreFrom, service: 'pitr' });
    };
    const { targetClusterId } = Created.parse(await run.step('create-target', create));
    await run.step('target-ready', () => waitUntilReady(deps, targetClusterId, name));
    return { clusterId: run.clusterId, targetClusterId, targetName: name, targetTime, inPlace: false };
  };
}
