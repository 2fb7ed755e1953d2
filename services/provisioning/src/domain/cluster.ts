import {
  evolveClusterView,
  followersOf,
  initialClusterView,
  runningOperation,
  type ClusterEvent,
  type ClusterNode,
  type ClusterView,
  type Durability,
  type NodeRole,
  type PostgresVersion,
  type RestoreSource,
} from '@pgfleet/contracts';
import { accept, reject, type Decider, type Decision } from '@pgfleet/kit';
import { decideExtension, type ExtensionCommand } from './extensions.js';
import { decidePlaced, type RecordNodePlaced } from './placement.js';
import { endOperation, startOperation } from './operations.js';
import { decideSetParameters, type SetParametersCommand } from './parameters.js';
import { decideChangePlan, type ChangePlanCommand } from './planChange.js';
import { decideRestart, type RestartClusterCommand } from './restart.js';
import { decideSwitchover, type SwitchoverClusterCommand } from './switchover.js';

/**
 * The `cluster-{clusterId}` aggregate. Its state is the shared cluster view (contracts) and its
 * `evolve` is the view's fold; `decide` takes the users' commands and the workers' outcomes, so
 * no event reaches the stream without a decision, and a stale or repeated outcome records nothing.
 * Delete, retry and switchover are operations (one at a time per cluster): the user's command
 * appends OperationRequested with the events that start the work, and the worker's outcome that
 * finishes the work (ClusterDeleted, ClusterReady, ClusterProvisioningFailed) ends the operation
 * in the same append.
 */

// ---- user commands --------------------------------------------------------------------------

export interface CreateClusterCommand {
  type: 'CreateCluster';
  clusterId: string;
  name: string;
  accountId: string;
  plan: string;
  version: PostgresVersion;
  dataNodes: number;
  secretRef: string;
  durability?: Durability;
  /** A fork: the leader is restored from this cluster's PITR archive instead of initdb. */
  restoreFrom?: RestoreSource;
}

/** Delete the cluster, as operation `operationId` (kind 'delete'). */
interface DeleteClusterCommand {
  type: 'DeleteCluster';
  operationId: string;
}

/** Provision a failed cluster again, as operation `operationId` (kind 'retry'). */
interface RetryClusterCommand {
  type: 'RetryCluster';
  operationId: string;
}

// ---- worker outcomes ------------------------------------------------------------------------

/** What a worker did to the cluster's nodes, decided against the current stream before it is recorded. */
export type RecordCommand =
  | RecordNodePlaced
  | { type: 'RecordNodeProvisioned'; nodeId: string; port: number }
  | { type: 'RecordNodeStarted'; nodeId: string; port: number; pid?: number }
  | { type: 'RecordNodeStopped'; nodeId: string }
  | { type: 'RecordNodeFailed'; nodeId: string; reason: string }
  | { type: 'RecordReplicationEstablished'; synchronousStandbyNames?: string }
  | { type: 'RecordClusterReady'; host: string; port: number; database: string; user: string }
  | { type: 'RecordProvisioningFailed'; reason: string }
  | { type: 'RecordClusterDeleted' }
  /** Teardown removed the cluster's passwords (`secretRefs`) and, with `privateKeys`, its CA and node keys. */
  | { type: 'RecordSecretsRemoved'; secretRefs: string[]; privateKeys: boolean }
  | { type: 'RecordLeaderChanged'; from: string; to: string; timeline: number }
  /** A plan change removed this follower (stopped, data and slot gone). */
  | { type: 'RecordNodeRemoved'; nodeId: string }
  /** A plan change migrated the cluster: it runs on plan `to` from now. */
  | { type: 'RecordPlanChanged'; to: string };

export type ClusterCommand =
  | CreateClusterCommand
  | DeleteClusterCommand
  | RetryClusterCommand
  | SwitchoverClusterCommand
  | ChangePlanCommand
  | RestartClusterCommand
  | SetParametersCommand
  | ExtensionCommand
  | RecordCommand;

type ClusterDecision = Decision<ClusterEvent>;
type Outcome<T extends RecordCommand['type']> = Extract<RecordCommand, { type: T }>;

const notFound = (): ClusterDecision => reject('CLUSTER_NOT_FOUND', 'no such cluster', { field: 'clusterId' });
const notIn = (state: ClusterView, wanted: 'provisioning' | 'deleting'): ClusterDecision => {
  const message = `cluster ${state.name} is ${state.status}, not ${wanted}`;
  return reject(`NOT_${wanted.toUpperCase()}`, message, { status: state.status });
};

function decideCreate(cmd: CreateClusterCommand, state: ClusterView): ClusterDecision {
  if (state.status !== 'none') {
    return reject('CLUSTER_EXISTS', `cluster ${cmd.clusterId} already exists`, { field: 'clusterId' });
  }
  const nodes = Array.from({ length: cmd.dataNodes }, (_, i) => {
    const role: NodeRole = i === 0 ? 'leader' : 'follower';
    return { nodeId: `node${i + 1}`, role };
  });
  const { clusterId, name, accountId, plan, version, secretRef, durability, restoreFrom } = cmd;
  const data = {
    clusterId,
    name,
    accountId,
    plan,
    version,
    nodes,
    secretRef,
    ...(durability ? { durability } : {}),
    ...(restoreFrom ? { restoreFrom } : {}),
  };
  return accept({ type: 'ClusterRequested', data });
}

/**
 * A delete while the cluster is being deleted is that deletion (nothing more); while another
 * operation runs it is refused (OPERATION_IN_PROGRESS).
 */
function decideDelete(cmd: DeleteClusterCommand, state: ClusterView): ClusterDecision {
  if (state.status === 'none') return notFound();
  if (state.status === 'deleted') {
    return reject('CLUSTER_DELETED', `cluster ${state.name} is already deleted`, { field: 'clusterId' });
  }
  const running = runningOperation(state.ops);
  if (running?.kind === 'delete' || (state.status === 'deleting' && !running)) return accept();
  return startOperation(state, { operationId: cmd.operationId, kind: 'delete' }, () => ({
    ok: true,
    params: {},
    events: [{ type: 'ClusterDeletionRequested', data: {} }],
  }));
}

function decideRetry(cmd: RetryClusterCommand, state: ClusterView): ClusterDecision {
  if (state.status === 'none') return notFound();
  return startOperation(state, { operationId: cmd.operationId, kind: 'retry' }, () => {
    if (state.status !== 'failed') {
      const message = `cluster ${state.name} is ${state.status}; only a failed cluster can be retried`;
      return {
        ok: false,
        rejection: { code: 'NOT_FAILED', message, details: { field: 'clusterId', rule: 'status_failed' } },
      };
    }
    return { ok: true, params: {}, events: [{ type: 'ClusterProvisioningRetried', data: {} }] };
  });
}

/** A provisioning that fails ends the retry that asked for it, failed at its step 'provision'. */
const provisioningFailed = (state: ClusterView, reason: string) =>
  endOperation(state, 'retry', { ok: false, step: 'provision', reason });

/** Outcomes of provisioning count only while the cluster is being provisioned (a delete or a failure ends it). */
function whileProvisioning(state: ClusterView, decision: () => ClusterDecision): ClusterDecision {
  if (state.status === 'none') return notFound();
  if (state.status !== 'provisioning') return notIn(state, 'provisioning');
  return decision();
}

const changingPlan = (state: ClusterView) =>
  state.status === 'ready' && runningOperation(state.ops)?.kind === 'plan-change';

/** Nodes are made while the cluster is provisioned, and while a plan change adds followers to a ready one. */
function whileMakingNodes(state: ClusterView, decision: () => ClusterDecision): ClusterDecision {
  return changingPlan(state) ? decision() : whileProvisioning(state, decision);
}

/** Outcomes of a plan change count only while one runs. */
function whileChangingPlan(state: ClusterView, decision: () => ClusterDecision): ClusterDecision {
  if (state.status === 'none') return notFound();
  if (!changingPlan(state)) {
    return reject('NO_PLAN_CHANGE', `cluster ${state.name} has no plan change in progress`, { status: state.status });
  }
  return decision();
}

function decideNodeRemoved(cmd: Outcome<'RecordNodeRemoved'>, state: ClusterView): ClusterDecision {
  return whileChangingPlan(state, () => {
    if (!state.nodes.some((n) => n.nodeId === cmd.nodeId)) return accept();
    if (state.leader === cmd.nodeId) {
      return reject('NODE_IS_LEADER', `${cmd.nodeId} leads cluster ${state.name}: it cannot be removed`);
    }
    return accept({ type: 'NodeRemoved', data: { nodeId: cmd.nodeId } });
  });
}

function decidePlanChanged(cmd: Outcome<'RecordPlanChanged'>, state: ClusterView): ClusterDecision {
  if (state.plan === cmd.to) return accept();
  return whileChangingPlan(state, () => {
    const wanted = runningOperation(state.ops)?.params.to;
    if (wanted !== cmd.to || state.plan === undefined) {
      return reject('CONFLICT', `the plan change in progress on ${state.name} is not to ${cmd.to}`);
    }
    return accept({ type: 'ClusterPlanChanged', data: { from: state.plan, to: cmd.to } });
  });
}

function withNode(
  state: ClusterView,
  nodeId: string,
  decision: (node: ClusterNode) => ClusterDecision,
): ClusterDecision {
  const node = state.nodes.find((n) => n.nodeId === nodeId);
  if (!node) return reject('UNKNOWN_NODE', `cluster ${state.name} has no node ${nodeId}`, { field: 'nodeId' });
  return decision(node);
}

function decideProvisioned(cmd: Outcome<'RecordNodeProvisioned'>, state: ClusterView): ClusterDecision {
  return whileMakingNodes(state, () =>
    withNode(state, cmd.nodeId, (node) => {
      if (node.provisioned && node.port === cmd.port) return accept();
      if (node.provisioned) {
        const message = `${node.nodeId} of cluster ${state.name} was already provisioned on port ${node.port}`;
        return reject('NODE_ALREADY_PROVISIONED', message, { nodeId: node.nodeId, port: node.port });
      }
      return accept({ type: 'NodeProvisioned', data: { nodeId: node.nodeId, role: node.role, port: cmd.port } });
    }),
  );
}

function decideStarted(cmd: Outcome<'RecordNodeStarted'>, state: ClusterView): ClusterDecision {
  return whileMakingNodes(state, () =>
    withNode(state, cmd.nodeId, (node) => {
      if (!node.provisioned) {
        const message = `${node.nodeId} of cluster ${state.name} is not provisioned yet`;
        return reject('NODE_NOT_PROVISIONED', message, { nodeId: node.nodeId });
      }
      if (node.started) return accept();
      const pid = cmd.pid === undefined ? {} : { pid: cmd.pid };
      return accept({ type: 'NodeStarted', data: { nodeId: node.nodeId, port: cmd.port, ...pid } });
    }),
  );
}

function decideStopped(cmd: Outcome<'RecordNodeStopped'>, state: ClusterView): ClusterDecision {
  if (state.status === 'none') return notFound();
  if (state.status !== 'deleting') return notIn(state, 'deleting');
  return withNode(state, cmd.nodeId, (node) =>
    node.started ? accept({ type: 'NodeStopped', data: { nodeId: node.nodeId } }) : accept(),
  );
}

function decideNodeFailed(cmd: Outcome<'RecordNodeFailed'>, state: ClusterView): ClusterDecision {
  return whileProvisioning(state, () =>
    withNode(state, cmd.nodeId, (node) =>
      accept<ClusterEvent>(
        { type: 'NodeFailed', data: { nodeId: node.nodeId, reason: cmd.reason } },
        { type: 'ClusterProvisioningFailed', data: { nodeId: node.nodeId, reason: cmd.reason } },
        ...provisioningFailed(state, `${node.nodeId}: ${cmd.reason}`),
      ),
    ),
  );
}

function decideReplication(cmd: Outcome<'RecordReplicationEstablished'>, state: ClusterView): ClusterDecision {
  return whileMakingNodes(state, () => {
    if (state.replicationEstablished) return accept();
    const followers = followersOf(state).map((n) => n.nodeId);
    if (!state.leader || followers.length === 0) {
      return reject('NO_FOLLOWER', `cluster ${state.name} has no follower to replicate to`);
    }
    const { synchronousStandbyNames } = cmd;
    const sync = synchronousStandbyNames === undefined ? {} : { synchronousStandbyNames };
    return accept({ type: 'ReplicationEstablished', data: { leader: state.leader, followers, ...sync } });
  });
}

function decideReady(cmd: Outcome<'RecordClusterReady'>, state: ClusterView): ClusterDecision {
  if (state.status === 'ready') return accept();
  return whileProvisioning(state, () => {
    const notReady = `cluster ${state.name} is not ready`;
    const waiting = state.nodes.filter((n) => !n.started).map((n) => n.nodeId);
    if (waiting.length > 0) {
      return reject('NODES_NOT_STARTED', `${notReady}: ${waiting.join(', ')} not started`, { nodes: waiting });
    }
    if (followersOf(state).length > 0 && !state.replicationEstablished) {
      return reject('REPLICATION_NOT_ESTABLISHED', `${notReady}: its followers do not replicate yet`);
    }
    if (!state.leader) return reject('NO_LEADER', `cluster ${state.name} has no leader`);
    const { host, port, database, user } = cmd;
    return accept<ClusterEvent>(
      { type: 'ClusterReady', data: { leader: state.leader, host, port, database, user } },
      ...endOperation(state, 'retry', { ok: true }),
    );
  });
}

function decideDeleted(state: ClusterView): ClusterDecision {
  if (state.status === 'none') return notFound();
  if (state.status === 'deleted') return accept();
  if (state.status !== 'deleting') return notIn(state, 'deleting');
  return accept<ClusterEvent>({ type: 'ClusterDeleted', data: {} }, ...endOperation(state, 'delete', { ok: true }));
}

function decideSecretsRemoved(cmd: Outcome<'RecordSecretsRemoved'>, state: ClusterView): ClusterDecision {
  if (state.status === 'none') return notFound();
  if (state.status !== 'deleting') return notIn(state, 'deleting');
  if (state.secretsRemoved) return accept();
  const { secretRefs, privateKeys } = cmd;
  return accept({ type: 'ClusterSecretsRemoved', data: { secretRefs, privateKeys } });
}

function decideLeaderChanged(cmd: Outcome<'RecordLeaderChanged'>, state: ClusterView): ClusterDecision {
  if (state.status === 'none') return notFound();
  if (state.status === 'ready' && state.leader === cmd.to) return accept();
  if (state.status !== 'ready' || state.leader !== cmd.from) {
    const now = `it is ${state.status}, led by ${state.leader ?? 'nobody'}`;
    return reject('CONFLICT', `cluster ${state.name} changed during the switchover (${now}); check its state`);
  }
  return withNode(state, cmd.to, (node) =>
    accept({
      type: 'LeaderChanged',
      data: { from: cmd.from, to: node.nodeId, reason: 'switchover', timeline: cmd.timeline },
    }),
  );
}

function decideCluster(command: ClusterCommand, state: ClusterView): ClusterDecision {
  switch (command.type) {
    case 'CreateCluster':
      return decideCreate(command, state);
    case 'DeleteCluster':
      return decideDelete(command, state);
    case 'RetryCluster':
      return decideRetry(command, state);
    case 'SwitchoverCluster':
      return decideSwitchover(command, state);
    case 'ChangePlan':
      return decideChangePlan(command, state);
    case 'RestartCluster':
      return decideRestart(command, state);
    case 'SetClusterParameters':
      return decideSetParameters(command, state);
    case 'EnableExtension':
    case 'DisableExtension':
    case 'RecordExtensionEnabled':
    case 'RecordExtensionDisabled':
      return decideExtension(command, state);
    case 'RecordNodePlaced':
      return decidePlaced(command, state);
    case 'RecordNodeProvisioned':
      return decideProvisioned(command, state);
    case 'RecordNodeStarted':
      return decideStarted(command, state);
    case 'RecordNodeStopped':
      return decideStopped(command, state);
    case 'RecordNodeFailed':
      return decideNodeFailed(command, state);
    case 'RecordReplicationEstablished':
      return decideReplication(command, state);
    case 'RecordClusterReady':
      return decideReady(command, state);
    case 'RecordProvisioningFailed': {
      const { reason } = command;
      return whileProvisioning(state, () =>
        accept<ClusterEvent>(
          { type: 'ClusterProvisioningFailed', data: { reason } },
          ...provisioningFailed(state, reason),
        ),
      );
    }
    case 'RecordClusterDeleted':
      return decideDeleted(state);
    case 'RecordSecretsRemoved':
      return decideSecretsRemoved(command, state);
    case 'RecordLeaderChanged':
      return decideLeaderChanged(command, state);
    case 'RecordNodeRemoved':
      return decideNodeRemoved(command, state);
    case 'RecordPlanChanged':
      return decidePlanChanged(command, state);
    default: {
      const never: never = command;
      return never;
    }
  }
}

export const clusterDecider: Decider<ClusterView, ClusterCommand, ClusterEvent> = {
  initialState: initialClusterView(),
  evolve: evolveClusterView,
  decide: decideCluster,
};
