import { z } from 'zod';
import { Id } from '../names.js';

/**
 * The long actions on a cluster. Each is an operation: requested on the cluster stream with the
 * expected version (so one runs at a time per cluster), its steps recorded as they complete, and
 * ended by OperationSucceeded or OperationFailed. The service named in OPERATION_OWNERS runs it.
 */
export const OperationKind = z.enum([
  'switchover',
  'restore',
  'tls-force',
  'certs-rotate',
  'expose',
  'unexpose',
  'delete',
  'retry',
  'failover',
  'rejoin',
  'pitr-restore',
  'plan-change',
  'restart',
  'config',
  'extension-enable',
  'extension-disable',
  'major-upgrade',
]);
export type OperationKind = z.infer<typeof OperationKind>;

/** Which service executes (and resumes) each kind of operation. */
export const OPERATION_OWNERS = {
  switchover: 'provisioning',
  restore: 'backup',
  'tls-force': 'networking',
  'certs-rotate': 'networking',
  expose: 'networking',
  unexpose: 'networking',
  delete: 'provisioning',
  retry: 'provisioning',
  failover: 'ha',
  rejoin: 'ha',
  'pitr-restore': 'pitr',
  'plan-change': 'provisioning',
  restart: 'provisioning',
  config: 'provisioning',
  'extension-enable': 'provisioning',
  'extension-disable': 'provisioning',
  'major-upgrade': 'upgrade',
} as const satisfies Record<OperationKind, string>;

const Detail = z.record(z.string(), z.unknown());

/** Events of operations, on the `cluster-{clusterId}` stream of the cluster they act on. */
export const operationEvents = {
  OperationRequested: z.object({
    operationId: Id,
    kind: OperationKind,
    /** What the operation was asked to do (e.g. `{ to: 'node3' }`); never a secret. */
    params: Detail,
  }),
  /** One step is done (each step is idempotent; a resumed operation skips the completed ones). */
  OperationStepCompleted: z.object({ operationId: Id, step: z.string().min(1), detail: Detail.optional() }),
  OperationSucceeded: z.object({ operationId: Id, result: Detail.optional() }),
  /** The operation stopped at `step` for `reason`; the cluster was left no worse than before. */
  OperationFailed: z.object({ operationId: Id, step: z.string().min(1), reason: z.string() }),
  /**
   * A consumer gave up on an event about this cluster after its last retry: the event is parked
   * (other clusters' events flow on) and `cluster show` reports it.
   */
  HandlingFailed: z.object({
    consumer: z.string().min(1),
    eventId: z.string().min(1),
    eventType: z.string().min(1),
    error: z.string(),
  }),
} as const;
