import type { OPERATION_OWNERS, OperationKind } from '@pgfleet/contracts';
import type { OperationExecutor } from '@pgfleet/kit';
import { runCertsRotate } from './certsRotate.js';
import type { OperationDeps } from './deps.js';
import { runExpose } from './expose.js';
import { runTlsForce } from './tlsForce.js';
import { runUnexpose } from './unexpose.js';

/** The kinds of operation the networking service owns (contracts' OPERATION_OWNERS). */
export type NetworkingKind = {
  [K in OperationKind]: (typeof OPERATION_OWNERS)[K] extends 'networking' ? K : never;
}[OperationKind];

/** An executor for every kind networking owns, for the kit's `runService` (`operations`). */
export function networkingOperations(deps: OperationDeps): Record<NetworkingKind, OperationExecutor> {
  return {
    'tls-force': (run) => runTlsForce(deps, run),
    'certs-rotate': (run) => runCertsRotate(deps, run),
    expose: (run) => runExpose(deps, run),
    unexpose: (run) => runUnexpose(deps, run),
  };
}
