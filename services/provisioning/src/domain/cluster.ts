import type { DomainEvent, EventData, EventEnvelope, NodeRole, PostgresVersion, Rejection } from '@pgfleet/contracts';

/** The `cluster-{clusterId}` aggregate: one cluster's lifecycle, folded from its events. */

export type ClusterStatus = 'none' | 'provisioning' | 'ready' | 'failed' | 'deleting' | 'deleted';

export interface NodeState {
  nodeId: string;
  role: NodeRole;
  port?: number;
  dataDir?: string;
  started: boolean;
  failedReason?: string;
}

export interface ClusterState {
  status: ClusterStatus;
  clusterId?: string;
  name?: string;
  accountId?: string;
  plan?: string;
  version?: PostgresVersion;
  secretRef?: string;
  nodes: NodeState[];
  leader?: string;
  replicationEstablished: boolean;
  failureReason?: string;
  createdAt?: string;
  readyAt?: string;
  /** Number of events folded: the expected version for the next append. */
  version_: number;
}

export const initialClusterState = (): ClusterState => ({ status: 'none', nodes: [], replicationEstablished: false, version_: 0 });

type ClusterEventType = 'ClusterRequested' | 'NodeProvisioned' | 'NodeStarted' | 'NodeStopped' | 'NodeFailed' | 'ReplicationEstablished'
  | 'ClusterReady' | 'ClusterProvisioningFailed' | 'ClusterProvisioningRetried' | 'ClusterDeletionRequested' | 'ClusterDeleted' | 'LeaderChanged';

export function evolveCluster(state: ClusterState, event: DomainEvent | EventEnvelope): ClusterState {
  const next = { ...state, version_: state.version_ + 1 };
  const at = 'occurredAt' in event ? event.occurredAt : undefined;
  const withNode = (nodeId: string, patch: Partial<NodeState>): NodeState[] =>
    next.nodes.map((n) => (n.nodeId === nodeId ? { ...n, ...patch } : n));
  switch (event.type as ClusterEventType) {
    case 'ClusterRequested': {
      const d = event.data as EventData<'ClusterRequested'>;
      return {
        ...next, status: 'provisioning', clusterId: d.clusterId, name: d.name, accountId: d.accountId, plan: d.plan,
        version: d.version, secretRef: d.secretRef, createdAt: at,
        nodes: d.nodes.map((n) => ({ nodeId: n.nodeId, role: n.role, started: false })),
        leader: d.nodes.find((n) => n.role === 'leader')?.nodeId,
      };
    }
    case 'NodeProvisioned': {
      const d = event.data as EventData<'NodeProvisioned'>;
      return { ...next, nodes: withNode(d.nodeId, { port: d.port, dataDir: d.dataDir, failedReason: undefined }) };
    }
    case 'NodeStarted': {
      const d = event.data as EventData<'NodeStarted'>;
      return { ...next, nodes: withNode(d.nodeId, { started: true, port: d.port, failedReason: undefined }) };
    }
    case 'NodeStopped':
      return { ...next, nodes: withNode((event.data as EventData<'NodeStopped'>).nodeId, { started: false }) };
    case 'NodeFailed': {
      const d = event.data as EventData<'NodeFailed'>;
      return { ...next, nodes: withNode(d.nodeId, { failedReason: d.reason, started: false }) };
    }
    case 'ReplicationEstablished':
      return { ...next, replicationEstablished: true };
    case 'ClusterReady':
      return { ...next, status: 'ready', leader: (event.data as EventData<'ClusterReady'>).leader, readyAt: at, failureReason: undefined };
    case 'ClusterProvisioningFailed':
      return { ...next, status: 'failed', failureReason: (event.data as EventData<'ClusterProvisioningFailed'>).reason };
    case 'ClusterProvisioningRetried':
      return { ...next, status: 'provisioning', failureReason: undefined, nodes: next.nodes.map((n) => ({ ...n, failedReason: undefined })) };
    case 'ClusterDeletionRequested':
      return { ...next, status: 'deleting' };
    case 'ClusterDeleted':
      return { ...next, status: 'deleted', nodes: next.nodes.map((n) => ({ ...n, started: false })) };
    case 'LeaderChanged': {
      const d = event.data as EventData<'LeaderChanged'>;
      return { ...next, leader: d.to, nodes: next.nodes.map((n) => ({ ...n, role: n.nodeId === d.to ? 'leader' : 'follower' })) };
    }
    default:
      return next;
  }
}

export function foldCluster(events: readonly (DomainEvent | EventEnvelope)[]): ClusterState {
  return events.reduce(evolveCluster, initialClusterState());
}

// ---- decisions on user commands -------------------------------------------------------------

export type Decision = { ok: true; events: DomainEvent[] } | { ok: false; rejection: Rejection };

export interface CreateClusterInput {
  clusterId: string;
  name: string;
  accountId: string;
  plan: string;
  version: PostgresVersion;
  dataNodes: number;
  secretRef: string;
}

export function decideCreate(cmd: CreateClusterInput, state: ClusterState): Decision {
  if (state.status !== 'none') {
    return { ok: false, rejection: { code: 'CLUSTER_EXISTS', message: `cluster ${cmd.clusterId} already exists`, details: { field: 'clusterId' } } };
  }
  const nodes = Array.from({ length: cmd.dataNodes }, (_, i) => ({ nodeId: `node${i + 1}`, role: (i === 0 ? 'leader' : 'follower') as NodeRole }));
  return {
    ok: true,
    events: [{ type: 'ClusterRequested', data: { clusterId: cmd.clusterId, name: cmd.name, accountId: cmd.accountId, plan: cmd.plan, version: cmd.version, nodes, secretRef: cmd.secretRef } }],
  };
}

export function decideDelete(state: ClusterState): Decision {
  if (state.status === 'none') return { ok: false, rejection: { code: 'CLUSTER_NOT_FOUND', message: 'no such cluster', details: { field: 'clusterId' } } };
  if (state.status === 'deleted') return { ok: false, rejection: { code: 'CLUSTER_DELETED', message: `cluster ${state.name} is already deleted`, details: { field: 'clusterId' } } };
  if (state.status === 'deleting') return { ok: true, events: [] };
  return { ok: true, events: [{ type: 'ClusterDeletionRequested', data: {} }] };
}

export function decideRetry(state: ClusterState): Decision {
  if (state.status === 'none') return { ok: false, rejection: { code: 'CLUSTER_NOT_FOUND', message: 'no such cluster', details: { field: 'clusterId' } } };
  if (state.status !== 'failed') {
    return { ok: false, rejection: { code: 'NOT_FAILED', message: `cluster ${state.name} is ${state.status}; only a failed cluster can be retried`, details: { field: 'clusterId', rule: 'status_failed' } } };
  }
  return { ok: true, events: [{ type: 'ClusterProvisioningRetried', data: {} }] };
}
