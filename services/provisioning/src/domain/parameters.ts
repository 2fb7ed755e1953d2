import { findPlan, planParameterChanges, type ClusterEvent, type ClusterView } from '@pgfleet/contracts';
import type { Decision } from '@pgfleet/kit';
import { startOperation } from './operations.js';
import { membersRunning } from './restart.js';

/** Set PostgreSQL parameters on the cluster (`name -> value`, `default` resets), as operation `operationId`. */
export interface SetParametersCommand {
  type: 'SetClusterParameters';
  operationId: string;
  parameters: Record<string, string>;
}

/**
 * Whether a parameter change may start: every parameter checked against the allow-list and the
 * plan's bounds before anything is recorded (one sentence naming the first one refused); then
 * OperationRequested {kind: 'config', params: {changes}} and ClusterParametersChanged {changes}
 * in one append, so the cluster view (what every node's configuration is rendered from) holds the
 * new values when the worker applies them. Pure.
 */
export function decideSetParameters(cmd: SetParametersCommand, state: ClusterView): Decision<ClusterEvent> {
  return startOperation(state, { operationId: cmd.operationId, kind: 'config' }, () => {
    const refused = membersRunning(state, 'its parameters cannot change now');
    if (refused) return refused;
    const planned = planParameterChanges(cmd.parameters, findPlan(state.plan!)!, state.parameters);
    if (!planned.ok) return planned;
    const { changes } = planned;
    return { ok: true, params: { changes }, events: [{ type: 'ClusterParametersChanged', data: { changes } }] };
  });
}
