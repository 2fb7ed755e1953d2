import type { CommandMeta, Operation } from '@pgfleet/contracts';
import { executeOperation, loadOperation } from '@pgfleet/kit';
import { restoreOperation, type RestoreOperationDeps } from '../operations/restore.js';
import { requestRestore, type RestoreRequest } from '../operations/requestRestore.js';

export interface RestoreRun {
  operationId: string;
  /** The cluster whose stream holds the operation. */
  clusterId: string;
  ended: 'succeeded' | 'failed' | 'skipped';
  operation: Operation;
}

const TESTER: CommandMeta = { actor: { kind: 'user', id: 'tester' } };

/** Ask for a restore as the RestoreBackup command does, then run its operation to the end as the service would. */
export async function restoreAndWait(
  deps: RestoreOperationDeps,
  cmd: RestoreRequest,
  meta: CommandMeta = TESTER,
): Promise<RestoreRun> {
  const reply = await requestRestore(deps, cmd, meta);
  if (!reply.ok) throw new Error(`RestoreBackup refused: ${reply.code}: ${reply.message}`);
  const operationId = String(reply.result?.operationId);
  const clusterId = reply.streamId.slice('cluster-'.length);
  const ended = await executeOperation(deps, clusterId, operationId, restoreOperation(deps));
  const operation = await loadOperation(deps.store, clusterId, operationId);
  if (!operation) throw new Error(`operation ${operationId} is not on ${reply.streamId}`);
  return { operationId, clusterId, ended, operation };
}
