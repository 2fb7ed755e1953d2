import { createHash } from 'node:crypto';
import type { EventEnvelope, EventOfType } from '../index.js';
import type { Durability, NodeHealth, NodeRole, RestoreSource } from '../events/cluster.js';
import { extensionsAfterUpgrade } from '../extensions.js';
import { applyParameterChanges } from '../parameters.js';
import { findPlan, type PostgresVersion } from '../plans.js';
import {
  decideOperation,
  evolveOperations,
  initialOperationsState,
  type OperationCommand,
  type OperationDecision,
  type OperationEvent,
  type OperationsState,
} from './operations.js';

/**
 * The cluster view: one cluster as its `cluster-{clusterId}` stream tells it (nodes, roles,
 * leader, ports, status). Pure, shared by every service and the API, so the stream is folded in
 * one place only. Events name nodes and ports; how to reach a node is the runtime's business.
 */

export type ClusterEvent =
  | EventOfType<
      | 'ClusterRequested'
      | 'NodePlaced'
      | 'NodeProvisioned'
      | 'NodeStarted'
      | 'NodeStopped'
      | 'NodeFailed'
      | 'ReplicationEstablished'
      | 'ClusterReady'
      | 'ClusterProvisioningFailed'
      | 'ClusterProvisioningRetried'
      | 'ClusterDeletionRequested'
      | 'ClusterSecretsRemoved'
      | 'ClusterDeleted'
      | 'LeaderChanged'
      | 'FailoverStarted'
      | 'NodeHealthChanged'
      | 'NodeRestarted'
      | 'NodeRejoined'
      | 'SyncReplicationDegraded'
      | 'SyncReplicationRestored'
      | 'DurabilityChanged'
      | 'NodeAdded'
      | 'NodeRemoved'
      | 'ClusterPlanChanged'
      | 'ClusterParametersChanged'
      | 'ExtensionEnabled'
      | 'ExtensionDisabled'
      | 'ClusterUpgraded'
    >
  | OperationEvent;

export type ClusterStatus = 'none' | 'provisioning' | 'ready' | 'failed' | 'deleting' | 'deleted';

export interface ClusterNode {
  nodeId: string;
  role: NodeRole;
  /** Set once the node's storage is ready (NodeProvisioned). */
  port?: number;
  /** The host the node was placed on (NodePlaced; only runtimes with several hosts record it). */
  host?: string;
  provisioned: boolean;
  started: boolean;
  failedReason?: string;
  /** As the HA service last recorded it (unknown until its first probe). */
  health?: NodeHealth;
  timeline?: number;
  lagBytes?: number;
  /**
   * A leader taken out by a failover: out of the gateways and never a leader again before it
   * rejoined as a follower (NodeRejoined).
   */
  fenced: boolean;
}

export interface FailoverRecord {
  term: number;
  operationId: string;
  from: string;
  reason: string;
  startedAt?: string;
  /** Set by the LeaderChanged of the term. */
  to?: string;
  endedAt?: string;
}

export interface ClusterView {
  status: ClusterStatus;
  clusterId?: string;
  name?: string;
  accountId?: string;
  plan?: string;
  version?: PostgresVersion;
  secretRef?: string;
  /** A fork: its leader is restored from this PITR archive, replayed to a time (ClusterRequested). */
  restoreFrom?: RestoreSource;
  nodes: ClusterNode[];
  leader?: string;
  replicationEstablished: boolean;
  failureReason?: string;
  durability: Durability;
  /** The last failover term (0: never failed over). */
  term: number;
  lastFailover?: FailoverRecord;
  /** With `available` durability: the leader went asynchronous since (no follower acknowledged). */
  syncDegradedAt?: string;
  timeline?: number;
  createdAt?: string;
  readyAt?: string;
  /** Being deleted: its passwords and private keys are gone (ClusterSecretsRemoved). */
  secretsRemoved?: boolean;
  /** The PostgreSQL parameters the user set (`config set`), rendered into every node's configuration. */
  parameters: Record<string, string>;
  /**
   * The extensions the platform enabled (`extension enable`): name -> version in the app database
   * (after a major upgrade, the new major's default version: the upgrade updates every extension).
   */
  extensions: Record<string, string>;
  /** Operations on the cluster (the running one, at most one) and parked event handlings. */
  ops: OperationsState;
  /** Number of events folded: the expected version of the next append. */
  version_: number;
}

export const initialClusterView = (): ClusterView => ({
  status: 'none',
  nodes: [],
  replicationEstablished: false,
  durability: 'available',
  term: 0,
  parameters: {},
  extensions: {},
  ops: initialOperationsState(),
  version_: 0,
});

/** A cluster event, bare (`{ type, data }`, as `decide` returns it) or in its stored envelope. */
export type FoldableClusterEvent = ClusterEvent | (EventEnvelope & ClusterEvent);

const occurredAt = (e: FoldableClusterEvent): string | undefined =>
  'occurredAt' in e && typeof e.occurredAt === 'string' ? e.occurredAt : undefined;

export function isClusterEvent(event: { type: string }): event is ClusterEvent {
  return CLUSTER_EVENT_TYPES.has(event.type);
}

const CLUSTER_EVENT_TYPES: ReadonlySet<string> = new Set<ClusterEvent['type']>([
  'ClusterRequested',
  'NodePlaced',
  'NodeProvisioned',
  'NodeStarted',
  'NodeStopped',
  'NodeFailed',
  'ReplicationEstablished',
  'ClusterReady',
  'ClusterProvisioningFailed',
  'ClusterProvisioningRetried',
  'ClusterDeletionRequested',
  'ClusterSecretsRemoved',
  'ClusterDeleted',
  'LeaderChanged',
  'FailoverStarted',
  'NodeHealthChanged',
  'NodeRestarted',
  'NodeRejoined',
  'SyncReplicationDegraded',
  'SyncReplicationRestored',
  'DurabilityChanged',
  'NodeAdded',
  'NodeRemoved',
  'ClusterPlanChanged',
  'ClusterParametersChanged',
  'ExtensionEnabled',
  'ExtensionDisabled',
  'ClusterUpgraded',
  'OperationRequested',
  'OperationStepCompleted',
  'OperationSucceeded',
  'OperationFailed',
  'HandlingFailed',
]);

export function evolveClusterView(state: ClusterView, event: FoldableClusterEvent): ClusterView {
  const next: ClusterView = { ...state, version_: state.version_ + 1 };
  const at = occurredAt(event);
  const withNode = (nodeId: string, patch: Partial<ClusterNode>): ClusterNode[] =>
    next.nodes.map((n) => (n.nodeId === nodeId ? { ...n, ...patch } : n));
  switch (event.type) {
    case 'ClusterRequested': {
      const d = event.data;
      return {
        ...next,
        status: 'provisioning',
        clusterId: d.clusterId,
        name: d.name,
        accountId: d.accountId,
        plan: d.plan,
        version: d.version,
        secretRef: d.secretRef,
        durability: d.durability ?? 'available',
        ...(d.restoreFrom ? { restoreFrom: d.restoreFrom } : {}),
        createdAt: at,
        nodes: d.nodes.map((n) => ({
          nodeId: n.nodeId,
          role: n.role,
          provisioned: false,
          started: false,
          fenced: false,
        })),
        leader: d.nodes.find((n) => n.role === 'leader')?.nodeId,
      };
    }
    case 'NodePlaced':
      return { ...next, nodes: withNode(event.data.nodeId, { host: event.data.host }) };
    case 'NodeProvisioned':
      return {
        ...next,
        nodes: withNode(event.data.nodeId, { port: event.data.port, provisioned: true, failedReason: undefined }),
      };
    case 'NodeStarted':
      return {
        ...next,
        nodes: withNode(event.data.nodeId, { started: true, port: event.data.port, failedReason: undefined }),
      };
    case 'NodeStopped':
      return { ...next, nodes: withNode(event.data.nodeId, { started: false }) };
    case 'NodeFailed':
      return { ...next, nodes: withNode(event.data.nodeId, { failedReason: event.data.reason, started: false }) };
    case 'ReplicationEstablished':
      return { ...next, replicationEstablished: true };
    case 'ClusterReady':
      return { ...next, status: 'ready', leader: event.data.leader, readyAt: at, failureReason: undefined };
    case 'ClusterProvisioningFailed':
      return { ...next, status: 'failed', failureReason: event.data.reason };
    case 'ClusterProvisioningRetried':
      return {
        ...next,
        status: 'provisioning',
        failureReason: undefined,
        nodes: next.nodes.map((n) => ({ ...n, failedReason: undefined })),
      };
    case 'ClusterDeletionRequested':
      return { ...next, status: 'deleting' };
    case 'ClusterSecretsRemoved':
      return { ...next, secretsRemoved: true };
    case 'ClusterDeleted':
      return { ...next, status: 'deleted', nodes: next.nodes.map((n) => ({ ...n, started: false })) };
    case 'LeaderChanged': {
      const { to, term, timeline } = event.data;
      const failover = next.lastFailover;
      return {
        ...next,
        leader: to,
        ...(timeline !== undefined ? { timeline } : {}),
        nodes: next.nodes.map((n) => ({ ...n, role: n.nodeId === to ? 'leader' : 'follower' })),
        // A new leader starts synchronous again (the operation that made it set it up).
        syncDegradedAt: undefined,
        ...(failover && term === failover.term ? { lastFailover: { ...failover, to, endedAt: at } } : {}),
      };
    }
    case 'FailoverStarted': {
      const { operationId, term, from, reason } = event.data;
      return {
        ...next,
        term,
        lastFailover: { term, operationId, from, reason, ...(at ? { startedAt: at } : {}) },
        nodes: withNode(from, { fenced: true }),
      };
    }
    case 'NodeHealthChanged': {
      const { nodeId, health, timeline, lagBytes } = event.data;
      // Absent figures (an unreachable node's) keep the last ones known.
      const known = {
        ...(timeline !== undefined ? { timeline } : {}),
        ...(lagBytes !== undefined ? { lagBytes } : {}),
      };
      return { ...next, nodes: withNode(nodeId, { health, ...known }) };
    }
    case 'NodeRestarted':
      return { ...next, nodes: withNode(event.data.nodeId, { started: true, failedReason: undefined }) };
    case 'NodeRejoined':
      return {
        ...next,
        nodes: withNode(event.data.nodeId, { fenced: false, role: 'follower', started: true, failedReason: undefined }),
      };
    case 'SyncReplicationDegraded':
      return { ...next, syncDegradedAt: at ?? new Date(0).toISOString() };
    case 'SyncReplicationRestored':
      return { ...next, syncDegradedAt: undefined };
    case 'DurabilityChanged':
      return { ...next, durability: event.data.durability };
    case 'NodeAdded': {
      const { nodeId, role } = event.data;
      if (next.nodes.some((n) => n.nodeId === nodeId)) return next;
      const node: ClusterNode = { nodeId, role, provisioned: false, started: false, fenced: false };
      return { ...next, nodes: [...next.nodes, node] };
    }
    case 'NodeRemoved': {
      const nodes = next.nodes.filter((n) => n.nodeId !== event.data.nodeId);
      // With no follower left there is no replication to speak of (a later one establishes it again).
      const replicationEstablished = next.replicationEstablished && nodes.some((n) => n.nodeId !== next.leader);
      return { ...next, nodes, replicationEstablished };
    }
    case 'ClusterPlanChanged':
      return { ...next, plan: event.data.to };
    case 'ClusterParametersChanged':
      return { ...next, parameters: applyParameterChanges(next.parameters, event.data.changes) };
    case 'ExtensionEnabled':
      return { ...next, extensions: { ...next.extensions, [event.data.extension]: event.data.version } };
    case 'ExtensionDisabled': {
      const { [event.data.extension]: _dropped, ...extensions } = next.extensions;
      return { ...next, extensions };
    }
    case 'ClusterUpgraded': {
      const version = event.data.toVersion;
      return { ...next, version, extensions: extensionsAfterUpgrade(next.extensions, version) };
    }
    case 'OperationRequested':
    case 'OperationStepCompleted':
    case 'OperationSucceeded':
    case 'OperationFailed':
    case 'HandlingFailed':
      return { ...next, ops: evolveOperations(next.ops, event, at) };
    default: {
      const never: never = event;
      return never;
    }
  }
}

/**
 * Operation commands decided on the cluster view: a cluster that does not exist (or is deleted)
 * takes no new operation — but a deleted cluster's archive may still be restored into a new
 * cluster (`pitr-restore`, which never touches the source) —; otherwise `decideOperation`.
 */
export function decideClusterOperation(command: OperationCommand, view: ClusterView): OperationDecision {
  const archiveOnly = command.type === 'RequestOperation' && command.kind === 'pitr-restore';
  if (command.type === 'RequestOperation' && (view.status === 'none' || (view.status === 'deleted' && !archiveOnly))) {
    const message = view.status === 'none' ? 'no such cluster' : `cluster ${view.name} is deleted`;
    const code = view.status === 'none' ? 'CLUSTER_NOT_FOUND' : 'CLUSTER_DELETED';
    return { ok: false, rejection: { code, message, details: { field: 'clusterId' } } };
  }
  return decideOperation(command, view.ops);
}

/** Fold a cluster stream; events of other types (none are expected there) are skipped. */
export function foldClusterView(events: readonly { type: string }[]): ClusterView {
  let view = initialClusterView();
  for (const e of events) if (isClusterEvent(e)) view = evolveClusterView(view, e);
  return view;
}

export const leaderOf = (view: ClusterView): ClusterNode | undefined =>
  view.nodes.find((n) => n.nodeId === view.leader);
export const followersOf = (view: ClusterView): ClusterNode[] => view.nodes.filter((n) => n.nodeId !== view.leader);

/** The runtime's id of a cluster's node: unique across clusters. */
export const runtimeNodeId = (clusterId: string, nodeId: string): string => `${clusterId}--${nodeId}`;

/**
 * The host name a node is reached by where a runtime names it (the docker runtime's network alias
 * and container host name) and that its certificate carries: its runtime id when that is a valid
 * DNS label (at most 63 lowercase letters, digits and inner hyphens), else `n-` and 24 hex digits of
 * the id's sha256 (a long cluster name, or an underscore).
 */
export const nodeHostName = (runtimeId: string): string =>
  /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(runtimeId)
    ? runtimeId
    : `n-${createHash('sha256').update(runtimeId).digest('hex').slice(0, 24)}`;

/** The standby's application_name and slot name: a node id as a SQL identifier. */
export const slotName = (nodeId: string): string => nodeId.replace(/[^a-z0-9_]/gi, '_').toLowerCase();

/**
 * The pgBackRest stanza a cluster's nodes archive their WAL to (and fetch it back from): its own
 * cluster id, on plans with PITR (`pitrDays > 0`); undefined on plans without (Sandbox) or an
 * unknown plan. Every service that sets up a node asks here, so all agree on it.
 */
export function archiveStanzaOf(view: Pick<ClusterView, 'clusterId' | 'plan'>): string | undefined {
  const plan = view.plan === undefined ? undefined : findPlan(view.plan);
  return view.clusterId !== undefined && plan !== undefined && plan.pitrDays > 0 ? view.clusterId : undefined;
}

/** The archive part of a node's setup, to spread into it: `{ archive: { stanza } }` on PITR plans, else nothing. */
export function archiveSetupOf(view: Pick<ClusterView, 'clusterId' | 'plan'>): { archive?: { stanza: string } } {
  const stanza = archiveStanzaOf(view);
  return stanza === undefined ? {} : { archive: { stanza } };
}

/** Where a cluster's secrets are kept in the secret store: references, never the secrets themselves. */
export const secretRefs = {
  app: (clusterId: string): string => `cluster/${clusterId}/app`,
  replication: (clusterId: string): string => `cluster/${clusterId}/replication`,
};
