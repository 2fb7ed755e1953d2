import { findOperation } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { OperationFailure, type KeyedQueue, type OperationExecutor } from '@pgfleet/kit';
import { loadCluster } from './record.js';

/**
 * The delete and retry operations. Their work is the cluster's reconciliation (`reconcile.ts`),
 * whose last outcome (ClusterDeleted; ClusterReady or ClusterProvisioningFailed) ends the
 * operation in the same append. The executor drives that reconciliation (so a restarted service
 * resumes it with the operation) and reports how it ended; an operation still under way after it
 * (the reconciliation met a newer history) is run again later.
 */
export function reconcileOperation(deps: { store: EventStore; reconciles: KeyedQueue }): OperationExecutor {
  return async (run) => {
    const { kind, operationId } = run.operation;
    await deps.reconciles.request(run.clusterId);
    const { view } = await loadCluster(deps.store, run.clusterId);
    const op = findOperation(view.ops, operationId);
    if (op?.status === 'succeeded') return op.result;
    if (op?.status === 'failed') throw new OperationFailure(op.failedStep ?? 'provision', op.error ?? 'failed');
    // The cluster got there without an outcome of this operation (its history is older than operations).
    if (kind === 'delete' && view.status === 'deleted') return {};
    if (kind === 'retry' && view.status === 'ready') return {};
    if (kind === 'retry' && view.status === 'failed') {
      throw new OperationFailure('provision', view.failureReason ?? 'the provisioning failed');
    }
    throw new Error(`the ${kind} of cluster ${view.name} is still under way (${view.status}); run again later`);
  };
}
