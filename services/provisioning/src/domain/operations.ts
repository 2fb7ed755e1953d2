import {
  decideClusterOperation,
  findOperation,
  runningOperation,
  type ClusterEvent,
  type ClusterView,
  type OperationEvent,
  type OperationKind,
  type Rejection,
} from '@pgfleet/contracts';
import { accept, type Decision } from '@pgfleet/kit';

/**
 * How the cluster decider starts and ends operations: through the shared operation decisions of
 * `@pgfleet/contracts` (`decideClusterOperation`), in the same append as the events of the work
 * itself, so an operation never starts without its work nor ends apart from its outcome.
 */

/** What an operation's pre-check answers: its params and the events that start its work, or a rejection. */
export type OperationPlan =
  | { ok: true; params: Record<string, unknown>; events: ClusterEvent[] }
  | { ok: false; rejection: Rejection };

/**
 * Start operation `operationId` of `kind`: the same request again (same id) records nothing more,
 * another operation in progress is refused OPERATION_IN_PROGRESS (naming it), otherwise `plan`
 * decides; OperationRequested is appended with the events of the plan.
 */
export function startOperation(
  state: ClusterView,
  request: { operationId: string; kind: OperationKind },
  plan: () => OperationPlan,
): Decision<ClusterEvent> {
  const requested = (params: Record<string, unknown>) =>
    decideClusterOperation({ type: 'RequestOperation', ...request, params }, state);
  if (findOperation(state.ops, request.operationId) || runningOperation(state.ops)) return requested({});
  const planned = plan();
  if (!planned.ok) return planned;
  const started = requested(planned.params);
  return started.ok ? accept<ClusterEvent>(...started.events, ...planned.events) : started;
}

/** How a worker's outcome ends the operation it carried out. */
export type OperationOutcome = { ok: true } | { ok: false; step: string; reason: string };

/** The events ending the running operation of `kind` with `outcome`; none when no such operation runs. */
export function endOperation(state: ClusterView, kind: OperationKind, outcome: OperationOutcome): OperationEvent[] {
  const running = runningOperation(state.ops);
  if (running?.kind !== kind) return [];
  const { operationId } = running;
  const decision = decideClusterOperation(
    outcome.ok
      ? { type: 'SucceedOperation', operationId }
      : { type: 'FailOperation', operationId, step: outcome.step, reason: outcome.reason },
    state,
  );
  return decision.ok ? decision.events : [];
}
