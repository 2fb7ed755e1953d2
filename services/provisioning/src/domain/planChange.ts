import { findPlan, PLAN_IDS, type ClusterEvent, type ClusterView, type Plan } from '@pgfleet/contracts';
import type { Decision } from '@pgfleet/kit';
import { startOperation, type OperationPlan } from './operations.js';

/** Move the cluster to `plan`, as operation `operationId` (kind 'plan-change'). */
export interface ChangePlanCommand {
  type: 'ChangePlan';
  operationId: string;
  plan: string;
  /** The data the cluster holds now (bytes, measured on its leader): a plan whose disk is smaller is refused. */
  dataBytes?: number;
}

/**
 * What a plan change does to the topology: followers cloned from the running leader (1 -> 3 data
 * nodes), followers removed (3 -> 1), or the same nodes configured for the new plan (a resize).
 */
export type PlanChangeKind = 'add-followers' | 'remove-followers' | 'resize';

/** What a plan-change operation was asked to do (its OperationRequested params). */
interface PlanChangeParams {
  from: string;
  to: string;
  change: PlanChangeKind;
  /** The followers added or removed. */
  nodes: string[];
}

const GIB = 2 ** 30;

/** Bytes as people read them: `1.3 GiB`, `512.0 MiB`. */
function formatBytes(bytes: number): string {
  if (bytes >= GIB) return `${(bytes / GIB).toFixed(1)} GiB`;
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** The change between two plans: by their number of data nodes. Pure. */
export function planChangeKind(from: Pick<Plan, 'dataNodes'>, to: Pick<Plan, 'dataNodes'>): PlanChangeKind {
  if (to.dataNodes > from.dataNodes) return 'add-followers';
  if (to.dataNodes < from.dataNodes) return 'remove-followers';
  return 'resize';
}

/** Ids for `count` new nodes: `node{n}` after the highest one the cluster has. */
export function newNodeIds(existing: readonly string[], count: number): string[] {
  const highest = Math.max(0, ...existing.map((id) => Number(/^node(\d+)$/.exec(id)?.[1] ?? 0)));
  return Array.from({ length: count }, (_, i) => `node${highest + i + 1}`);
}

/**
 * Whether a plan change may start, decided with the request itself (one append with the expected
 * version): OperationRequested {kind: 'plan-change', params: {from, to, change, nodes}}, with a
 * NodeAdded for each follower a bigger topology needs. Refused (nothing recorded) for an unknown
 * plan, the plan the cluster is on, a plan whose disk is smaller than the data, a cluster that is
 * not ready or has a node that does not run, or while another operation runs. Pure.
 */
export function decideChangePlan(cmd: ChangePlanCommand, state: ClusterView): Decision<ClusterEvent> {
  return startOperation(state, { operationId: cmd.operationId, kind: 'plan-change' }, () => planPlanChange(cmd, state));
}

function planPlanChange(cmd: ChangePlanCommand, state: ClusterView): OperationPlan {
  const no = (code: string, message: string, details: Record<string, unknown> = {}): OperationPlan => ({
    ok: false,
    rejection: { code, message, details },
  });
  if (state.status === 'none') return no('CLUSTER_NOT_FOUND', 'no such cluster', { field: 'clusterId' });
  const to = findPlan(cmd.plan);
  if (!to) {
    return no('UNKNOWN_PLAN', `unknown plan ${cmd.plan}; the plans are ${PLAN_IDS.join(', ')}`, { field: 'plan' });
  }
  const from = state.plan === undefined ? undefined : findPlan(state.plan);
  if (state.status !== 'ready' || !from || !state.leader) {
    return no('NOT_READY', `cluster ${state.name} is ${state.status}, not ready: its plan cannot change now`);
  }
  if (from.id === to.id) {
    return no('SAME_PLAN', `cluster ${state.name} is already on plan ${to.id}`, { field: 'plan', plan: to.id });
  }
  const limit = to.diskGb * GIB;
  if (cmd.dataBytes !== undefined && cmd.dataBytes > limit) {
    const message =
      `cluster ${state.name} holds ${formatBytes(cmd.dataBytes)} of data, more than the ${to.diskGb} GiB disk ` +
      `of plan ${to.id}: delete data or choose a plan with a bigger disk`;
    return no('DATA_EXCEEDS_DISK', message, { field: 'plan', used: cmd.dataBytes, limit });
  }
  const down = state.nodes.filter((n) => !n.started || n.fenced).map((n) => n.nodeId);
  if (down.length > 0) {
    const nodes = down.join(', ');
    const message = `cluster ${state.name} has nodes that do not run as members (${nodes}): try again once they do`;
    return no('NOT_READY', message, { nodes: down });
  }
  const change = planChangeKind({ dataNodes: state.nodes.length as 1 | 3 }, to);
  const followers = state.nodes.map((n) => n.nodeId).filter((id) => id !== state.leader);
  const added =
    change === 'add-followers'
      ? newNodeIds(
          state.nodes.map((n) => n.nodeId),
          to.dataNodes - 1,
        )
      : [];
  const nodes = change === 'add-followers' ? added : change === 'remove-followers' ? followers : [];
  const params: PlanChangeParams = { from: from.id, to: to.id, change, nodes };
  const events: ClusterEvent[] = added.map((nodeId) => ({ type: 'NodeAdded', data: { nodeId, role: 'follower' } }));
  return { ok: true, params: { ...params }, events };
}
