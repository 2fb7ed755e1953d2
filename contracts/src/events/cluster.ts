import { z } from 'zod';
import { AccountId, ClusterName, Id } from '../names.js';
import { ParameterChange } from '../parameters.js';
import { PlanId, PostgresVersion } from '../plans.js';

export const NodeRole = z.enum(['leader', 'follower']);
export type NodeRole = z.infer<typeof NodeRole>;

/**
 * What a Business cluster does when no follower acknowledges commits any more: `strict` waits
 * (writes block until a follower is back); `available` (default) lets the leader go asynchronous
 * (SyncReplicationDegraded) until one is back (SyncReplicationRestored).
 */
export const Durability = z.enum(['strict', 'available']);
export type Durability = z.infer<typeof Durability>;

/** A data node's health as the HA service's probes see it; recorded only when it changes. */
export const NodeHealth = z.enum(['healthy', 'unreachable', 'lagging', 'rejoining']);
export type NodeHealth = z.infer<typeof NodeHealth>;

/**
 * A point in time of a PITR archive: ISO 8601 with an explicit offset (`2026-11-30T10:15:00+01:00`
 * or `Z`); a local time would mean a different instant on every host, so it is refused.
 */
export const PitrTargetTime = z.iso.datetime({
  offset: true,
  message: 'must be an ISO 8601 time with an offset, e.g. 2026-11-30T10:15:00+01:00 or 2026-11-30T09:15:00Z',
});

/** Where a cluster created from an archive comes from: the PITR archive of `clusterId`, replayed to `targetTime`. */
export const RestoreSource = z.object({ clusterId: Id, targetTime: PitrTargetTime });
export type RestoreSource = z.infer<typeof RestoreSource>;

/**
 * An extension's name as events record it: not checked against today's allow-list (commands are),
 * so an event stays readable after the list changes.
 */
const RecordedExtension = z.string().min(1).max(63);

/** Events of the `cluster-{clusterId}` stream (provisioning owns them; ha adds leadership ones). */
export const clusterEvents = {
  ClusterRequested: z.object({
    clusterId: Id,
    name: ClusterName,
    accountId: AccountId,
    plan: PlanId,
    version: PostgresVersion,
    nodes: z.array(z.object({ nodeId: Id, role: NodeRole })).min(1),
    /** Reference into the secret store; never the password itself. */
    secretRef: z.string(),
    /** Absent in clusters created before it existed: `available`. */
    durability: Durability.optional(),
    /** A fork: the leader is restored from this cluster's PITR archive instead of initdb (absent: an empty cluster). */
    restoreFrom: RestoreSource.optional(),
  }),
  /**
   * The node's storage is ready (initdb or clone done). Schema version 2: events name nodes and
   * ports, never host paths (version 1 carried the driver's `dataDir`; its upcaster drops it).
   */
  NodeProvisioned: z.object({ nodeId: Id, role: NodeRole, port: z.number().int().positive() }),
  /**
   * Where the node is made, decided before its storage (`placeNodes`): a Docker host as the runtime
   * names it (`unix:///run/podman.sock`, `tcp://10.0.0.5:2376`). Only runtimes with several possible
   * hosts (docker) record it; a node of the process runtime runs on the control plane's machine.
   */
  NodePlaced: z.object({ nodeId: Id, host: z.string().min(1).max(300) }),
  NodeStarted: z.object({ nodeId: Id, port: z.number().int().positive(), pid: z.number().int().positive().optional() }),
  NodeStopped: z.object({ nodeId: Id }),
  NodeFailed: z.object({ nodeId: Id, reason: z.string() }),
  ReplicationEstablished: z.object({
    leader: Id,
    followers: z.array(Id),
    synchronousStandbyNames: z.string().optional(),
  }),
  ClusterReady: z.object({
    leader: Id,
    host: z.string(),
    port: z.number().int().positive(),
    database: z.string(),
    user: z.string(),
  }),
  ClusterProvisioningFailed: z.object({ reason: z.string(), nodeId: Id.optional() }),
  /** The user asked to try a failed provisioning again: work resumes where it stopped. */
  ClusterProvisioningRetried: z.object({}),
  ClusterDeletionRequested: z.object({}),
  /**
   * A cluster being deleted lost its secrets, once its nodes were gone: the passwords under
   * `secretRefs` left the secret store, and its CA and node private keys (`privateKeys`) the disk.
   */
  ClusterSecretsRemoved: z.object({ secretRefs: z.array(z.string()), privateKeys: z.boolean() }),
  ClusterDeleted: z.object({}),
  /** Leadership moved: emitted by ha on failover and on switchover; networking follows it. */
  LeaderChanged: z.object({
    from: Id.optional(),
    to: Id,
    reason: z.enum(['failover', 'switchover']),
    timeline: z.number().int().positive().optional(),
    /** The failover term that made `to` the leader (failovers only). */
    term: z.number().int().positive().optional(),
  }),
  /**
   * The leader is declared lost (or the user asked for a failover): appended with the expected
   * version together with the failover's OperationRequested, so one failover per term happens
   * whatever the number of HA replicas. From here `from` is fenced: out of the gateways, and never
   * again a leader before it rejoined as a follower.
   */
  FailoverStarted: z.object({
    operationId: Id,
    term: z.number().int().positive(),
    from: Id,
    reason: z.string().min(1),
  }),
  /** A node's health changed (never one event per probe). */
  NodeHealthChanged: z.object({
    nodeId: Id,
    health: NodeHealth,
    reason: z.string().optional(),
    timeline: z.number().int().positive().optional(),
    lagBytes: z.number().int().nonnegative().optional(),
  }),
  /** A node whose server died was restarted in place (a single-node cluster's, or a follower's). */
  NodeRestarted: z.object({ nodeId: Id, pid: z.number().int().positive().optional(), reason: z.string() }),
  /** A fenced old leader follows the new one again: rewound with pg_rewind, or cloned afresh when that failed. */
  NodeRejoined: z.object({
    nodeId: Id,
    leader: Id,
    method: z.enum(['rewind', 'clone']),
    timeline: z.number().int().positive().optional(),
  }),
  /** No follower acknowledged commits any more: with `available` durability the leader went asynchronous. */
  SyncReplicationDegraded: z.object({ leader: Id, reason: z.string() }),
  /** A follower acknowledges commits again: synchronous replication is back on the leader. */
  SyncReplicationRestored: z.object({ leader: Id, synchronousStandbyNames: z.string() }),
  DurabilityChanged: z.object({ durability: Durability }),
  /**
   * A plan change adds a data node (a follower cloned from the running leader): its storage is made
   * next (NodeProvisioned, NodeStarted), as for the nodes of ClusterRequested.
   */
  NodeAdded: z.object({ nodeId: Id, role: NodeRole }),
  /** A plan change removed a follower: stopped, its data and its slot on the leader gone. */
  NodeRemoved: z.object({ nodeId: Id }),
  /**
   * The cluster runs on plan `to` from this instant (its topology and configuration migrated):
   * billing prices it from here, backup and pitr apply its quotas, networking its gateways.
   */
  ClusterPlanChanged: z.object({ from: PlanId, to: PlanId }),
  /**
   * The user set PostgreSQL parameters (allow-listed, checked against the plan): recorded with the
   * `config` operation that applies them to every node. `null` is the plan's own setting.
   */
  ClusterParametersChanged: z.object({ changes: z.array(ParameterChange).min(1) }),
  /**
   * The platform created an allow-listed extension in the cluster's app database (as superuser),
   * at `version` (pg_extension.extversion), for the `extension-enable` operation.
   */
  ExtensionEnabled: z.object({ extension: RecordedExtension, version: z.string().min(1).max(32) }),
  /** The platform dropped the extension from the app database (`extension-disable`). */
  ExtensionDisabled: z.object({ extension: RecordedExtension }),
} as const;
