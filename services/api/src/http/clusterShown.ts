import { z } from 'zod';
import {
  Durability,
  findOperation,
  findPlan,
  gatewayHost,
  initialGatewaysState,
  NodeHealth,
  type ClusterNode,
  type ClusterView,
  type DiskState,
  type GatewaysState,
  type NodeHealth as Health,
} from '@pgfleet/contracts';
import type { ClusterSummary } from './projection.js';

/**
 * `GET /v1/clusters/{name}` (`pgfleet cluster show`): the cluster's row, its high-availability
 * state as the cluster view folds it (durability, failover term, last failover, degraded
 * synchronous replication), and each node as recorded (health, fenced, sync/async) merged with
 * what its PostgreSQL says now (the provisioning service's `ClusterStatus` query).
 */

/** One node as the provisioning service probes it now: what PostgreSQL answers. */
export interface LiveNode {
  nodeId: string;
  role?: string;
  state?: string;
  port?: number;
  pid?: number;
  timeline?: number;
  lsn?: string;
  lagBytes?: number | null;
  sync?: string;
  /** Where the runtime runs it (docker: its Docker host and container). */
  host?: string;
  container?: string;
}

const NodeShown = z.object({
  nodeId: z.string(),
  role: z.string().describe('leader or follower: as PostgreSQL says when it answers, else as recorded'),
  state: z.string().describe('running, starting, stopped or missing; unknown when the live status is unavailable'),
  port: z.number().int().optional(),
  pid: z.number().int().optional(),
  timeline: z.number().int().nullable().describe('as PostgreSQL says, else as the HA service last recorded it'),
  lsn: z.string().optional(),
  lagBytes: z.number().int().nullable().describe('bytes behind the leader (0 for the leader); null when unknown'),
  sync: z.string().optional().describe("the leader's pg_stat_replication.sync_state for this follower"),
  health: NodeHealth.nullable().describe('as the HA service last recorded it; null before its first probe'),
  replication: z
    .enum(['sync', 'async'])
    .nullable()
    .describe(
      'sync: a quorum member (ANY 1) of a plan with synchronous replication, while it is not degraded; ' +
        'async otherwise; null for the leader and a fenced node',
    ),
  fenced: z.boolean().describe('a leader taken out by a failover: out of the gateways until it rejoins'),
  host: z.string().optional().describe('the Docker host the node was placed on (NodePlaced; docker runtime only)'),
  container: z.string().optional().describe("the node's container (docker runtime only)"),
});
export type NodeShown = z.infer<typeof NodeShown>;

const FailoverShown = z.object({
  term: z.number().int(),
  operationId: z.string(),
  status: z.enum(['running', 'succeeded', 'failed']),
  from: z.string(),
  to: z.string().nullable().describe('the promoted node, once the leader changed'),
  reason: z.string(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable().describe('when the leader changed (or the failover failed)'),
  durationMs: z.number().int().nullable().describe('from the start to the leader change (or the failure)'),
  error: z.object({ step: z.string(), reason: z.string() }).nullable(),
});
export type FailoverShown = z.infer<typeof FailoverShown>;

const DiskShown = z
  .object({
    used: z
      .number()
      .int()
      .nullable()
      .describe(
        "bytes the cluster's databases take, as last recorded (within 1% of the limit, at least 8 MiB, of the " +
          'latest measurement); null before the first measurement',
      ),
    limit: z.number().int().describe("the plan's disk size in bytes"),
    over: z.boolean().describe('over the limit: QuotaExceeded {kind: disk} recorded, not yet back under'),
    overSince: z.string().nullable(),
    measuredAt: z.string().nullable().describe('when the figure was recorded'),
    onOverQuota: z.enum(['warn']).describe("what happens to writes over the limit (the plan's): warn lets them go on"),
  })
  .describe("the cluster's data size against its plan's disk (measured by the ha service)");
export type DiskShown = z.infer<typeof DiskShown>;

export const ClusterShown = z.object({
  clusterId: z.string(),
  name: z.string(),
  accountId: z.string(),
  plan: z.string(),
  version: z.number().int(),
  status: z.enum(['provisioning', 'ready', 'failed', 'deleting', 'deleted']),
  leader: z.string().optional(),
  failureReason: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  streamVersion: z.number().int(),
  durability: Durability,
  synchronousReplication: z.boolean().describe('the plan replicates synchronously to ANY 1 follower'),
  term: z.number().int().describe('the last failover term (0: never failed over)'),
  timeline: z.number().int().nullable(),
  lastFailover: FailoverShown.nullable(),
  syncDegradedAt: z
    .string()
    .nullable()
    .describe('since when the leader runs asynchronous: writes are not acknowledged by a follower'),
  dataLossFailover: z
    .object({ reason: z.string(), command: z.string(), candidates: z.array(z.string()) })
    .nullable()
    .describe(
      'set when durability is available and a failover runs or a follower is unhealthy: a follower that may ' +
        'miss acknowledged commits is promoted only with `command`',
    ),
  disk: DiskShown.nullable().describe('null when the plan is unknown'),
  extensions: z
    .record(z.string(), z.string())
    .describe('the extensions the platform enabled (`pgfleet extension enable`): name -> version'),
  nodes: z.array(NodeShown),
  gateways: z
    .array(
      z.object({
        gatewayId: z.string(),
        address: z.string().describe('host:port it serves (the URL names every distinct one)'),
        readOnlyAddress: z.string().optional(),
        host: z.string().optional().describe('the Docker host it was placed on (GatewayPlaced; several hosts only)'),
      }),
    )
    .describe('the gateways serving the cluster, as the networking service recorded them (GatewayStarted)'),
  nodeStatusError: z.string().optional().describe('why the live node status is missing (nodes are as recorded)'),
  handlingFailures: z
    .array(
      z.object({
        consumer: z.string(),
        eventId: z.string(),
        eventType: z.string(),
        error: z.string(),
        at: z.string().optional(),
      }),
    )
    .optional()
    .describe('events about the cluster a service gave up on after its last retry (parked)'),
});
export type ClusterShown = z.infer<typeof ClusterShown>;

const millisBetween = (from?: string, to?: string): number | null =>
  from && to ? Math.max(0, Date.parse(to) - Date.parse(from)) : null;

function lastFailoverOf(view: ClusterView): FailoverShown | null {
  const f = view.lastFailover;
  if (!f) return null;
  const op = findOperation(view.ops, f.operationId);
  const status = op?.status ?? (f.endedAt ? 'succeeded' : 'running');
  const endedAt = f.endedAt ?? (status === 'failed' ? op?.finishedAt : undefined);
  const failed = status === 'failed' ? { step: op?.failedStep ?? '', reason: op?.error ?? '' } : null;
  return {
    term: f.term,
    operationId: f.operationId,
    status,
    from: f.from,
    to: f.to ?? null,
    reason: f.reason,
    startedAt: f.startedAt ?? null,
    endedAt: endedAt ?? null,
    durationMs: millisBetween(f.startedAt, endedAt),
    error: failed,
  };
}

/** sync or async for a follower (null for the leader and a fenced node: neither replicates from the leader). */
function replicationOf(view: ClusterView, node: ClusterNode): 'sync' | 'async' | null {
  if (node.nodeId === view.leader || node.fenced) return null;
  const synchronous = findPlan(view.plan ?? '')?.synchronousReplication ?? false;
  return synchronous && !view.syncDegradedAt ? 'sync' : 'async';
}

/** A recorded node, with what its PostgreSQL says now when the live status answered. */
function nodeShown(view: ClusterView, node: ClusterNode, live: LiveNode | undefined): NodeShown {
  const probed = live?.role && live.role !== 'unknown' ? live.role : undefined;
  return {
    ...live,
    nodeId: node.nodeId,
    role: probed ?? node.role,
    state: live?.state ?? 'unknown',
    ...((live?.port ?? node.port) ? { port: live?.port ?? node.port } : {}),
    timeline: live?.timeline ?? node.timeline ?? null,
    // The live answer wins when there is one (null: the leader does not see it streaming).
    lagBytes: live ? (live.lagBytes ?? null) : (node.lagBytes ?? null),
    health: node.health ?? null,
    replication: replicationOf(view, node),
    fenced: node.fenced,
    ...((node.host ?? live?.host) ? { host: node.host ?? live?.host } : {}),
  };
}

const UNHEALTHY: ReadonlySet<Health> = new Set(['unreachable', 'lagging', 'rejoining']);

/**
 * With `available` durability, while a failover runs or a follower is unhealthy, the HA service
 * refuses to promote a follower that may miss acknowledged commits unless asked to accept the loss.
 */
function dataLossFailoverOf(view: ClusterView, name: string, failover: FailoverShown | null) {
  if (view.durability !== 'available' || view.status === 'deleting' || view.status === 'deleted') return null;
  const followers = view.nodes.filter((n) => n.nodeId !== view.leader && !n.fenced);
  const reasons = [
    ...(failover?.status === 'running' ? [`the failover of term ${failover.term} is running`] : []),
    ...followers.filter((n) => n.health && UNHEALTHY.has(n.health)).map((n) => `${n.nodeId} is ${n.health}`),
  ];
  if (reasons.length === 0) return null;
  return {
    reason: reasons.join('; '),
    command: `pgfleet cluster failover ${name} --to NODE --accept-data-loss`,
    candidates: followers.filter((n) => n.health !== 'unreachable').map((n) => n.nodeId),
  };
}

const GiB = 1024 * 1024 * 1024;

/** Used / limit from the `disk-{clusterId}` stream; the plan's limit before the first measurement. */
function diskShown(plan: string, disk: DiskState): DiskShown | null {
  const p = findPlan(plan);
  if (!p) return null;
  return {
    used: disk.used ?? null,
    limit: disk.limit ?? p.diskGb * GiB,
    over: disk.over,
    overSince: disk.overSince ?? null,
    measuredAt: disk.measuredAt ?? null,
    onOverQuota: p.diskOverQuota,
  };
}

/**
 * The cluster as `show` gives it, from its row, its folded view and the live node status
 * (or why it is missing), and its folded `disk-{clusterId}` stream. Pure: the route gathers the inputs.
 */
export function showCluster(
  row: ClusterSummary,
  view: ClusterView,
  live: readonly LiveNode[] | { error: string },
  disk: DiskState = { over: false, version: 0 },
  gateways: GatewaysState = initialGatewaysState(),
): ClusterShown {
  const liveNodes = 'error' in live ? undefined : new Map(live.map((n) => [n.nodeId, n]));
  const lastFailover = lastFailoverOf(view);
  const handlingFailures = view.ops.handlingFailures;
  const nodes = view.nodes.map((n) => nodeShown(view, n, liveNodes?.get(n.nodeId)));
  return {
    ...row,
    durability: view.durability,
    synchronousReplication: findPlan(row.plan)?.synchronousReplication ?? false,
    term: view.term,
    timeline: view.timeline ?? nodes.find((n) => n.nodeId === view.leader)?.timeline ?? null,
    lastFailover,
    syncDegradedAt: view.syncDegradedAt ?? null,
    dataLossFailover: dataLossFailoverOf(view, row.name, lastFailover),
    disk: diskShown(row.plan, disk),
    extensions: view.extensions,
    nodes,
    gateways: [...gateways.gateways]
      .sort((a, b) => a.gatewayId.localeCompare(b.gatewayId))
      .map((g) => {
        const host = gatewayHost(gateways, g.gatewayId);
        return {
          gatewayId: g.gatewayId,
          address: `${g.host}:${g.port}`,
          ...(g.readOnlyPort !== undefined ? { readOnlyAddress: `${g.host}:${g.readOnlyPort}` } : {}),
          ...(host !== undefined ? { host } : {}),
        };
      }),
    ...('error' in live ? { nodeStatusError: live.error } : {}),
    // Events a service gave up on after its last retry are parked and shown here (HandlingFailed).
    ...(handlingFailures.length > 0 ? { handlingFailures } : {}),
  };
}
