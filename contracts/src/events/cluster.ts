import { z } from 'zod';
import { AccountId, ClusterName, Id } from '../names.js';
import { PlanId, PostgresVersion } from '../plans.js';

export const NodeRole = z.enum(['leader', 'follower']);
export type NodeRole = z.infer<typeof NodeRole>;

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
  }),
  /**
   * The node's storage is ready (initdb or clone done). Schema version 2: events name nodes and
   * ports, never host paths (version 1 carried the driver's `dataDir`; its upcaster drops it).
   */
  NodeProvisioned: z.object({ nodeId: Id, role: NodeRole, port: z.number().int().positive() }),
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
  ClusterDeleted: z.object({}),
  /** Leadership moved: emitted by ha on failover and on switchover; networking follows it. */
  LeaderChanged: z.object({
    from: Id.optional(),
    to: Id,
    reason: z.enum(['failover', 'switchover']),
    timeline: z.number().int().positive().optional(),
  }),
} as const;
