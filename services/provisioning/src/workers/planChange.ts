import {
  archiveStanzaOf,
  findPlan,
  foldGateways,
  Id,
  runtimeNodeId,
  slotName,
  streamIds,
  type ClusterView,
  type Plan,
} from '@pgfleet/contracts';
import { OperationFailure, type OperationExecutor, type OperationRun } from '@pgfleet/kit';
import { ensureClusterTls, setSynchronousStandbys, withClient } from '@pgfleet/postgres';
import { nodeSetupOf, upstreamLeaderOf, type NodeSetup } from '@pgfleet/runtime';
import { z } from 'zod';
import { placeClusterNodes } from './placement.js';
import { ensureRunning, type ReconcileDeps } from './reconcile.js';
import type { RecordCommand } from '../domain/cluster.js';
import { ClusterProgress, fromStore, loadCluster, recordOutcome, StoreUnavailable } from './record.js';
import { restartNode, rollingRestart, waitStreaming } from './rollingRestart.js';

/**
 * The plan-change operation: the cluster moves to another plan online, as idempotent steps recorded
 * as they complete (a restarted service resumes after the last one). By the change of topology:
 *
 * - add-followers (Starter -> Business): `check`; `configure-leader` (the new plan's settings,
 *   reloaded: no restart unless archiving must start, Sandbox -> Business); `clone-followers` (the
 *   reconciliation's clone: pg_basebackup from the running leader, a slot each); `replication`
 *   (both stream; synchronous_standby_names ANY 1); `plan` (ClusterPlanChanged: networking starts
 *   the second gateway, backup and pitr apply the new quotas); `gateways` (every gateway of the
 *   plan serves). The leader never stops: the application writes through the same URL throughout.
 * - remove-followers (Business -> Starter): `check`; `sync-off` (synchronous_standby_names cleared
 *   first, or commits would wait for followers that are going); `plan`; `remove-followers` (each
 *   stopped, its data removed, its slot dropped, NodeRemoved); `configure-leader`; `gateways`.
 * - resize (same number of nodes): `check`; one node restarted at a time with the new plan's
 *   configuration. Business: the followers first, then a switchover to one of them (the leader's
 *   restart costs only a switchover's interruption), then the old leader; a smaller plan (fewer
 *   connections, which PostgreSQL wants lowered on the primary first) restarts the leader first.
 *   One node (Starter, Sandbox): one restart. Then `plan`.
 *
 * The leader's settings that need a restart (shared_buffers, max_connections) wait for its next
 * restart when the topology changes; followers are never given fewer connections than the leader
 * runs with (a standby refuses to start with fewer).
 */
export function planChangeExecutor(deps: ReconcileDeps): OperationExecutor {
  return async (run) => {
    const change = await PlanChange.load(deps, run);
    await change.step('check', () => change.check());
    switch (change.params.change) {
      case 'add-followers':
        await change.addFollowers();
        break;
      case 'remove-followers':
        await change.removeFollowers();
        break;
      case 'resize':
        await change.resize();
        break;
      default: {
        const never: never = change.params.change;
        return never;
      }
    }
    const { view } = await loadCluster(deps.store, run.clusterId);
    return { from: change.from.id, to: change.to.id, nodes: view.nodes.map((n) => n.nodeId), leader: view.leader };
  };
}

const Params = z.object({
  from: z.string(),
  to: z.string(),
  change: z.enum(['add-followers', 'remove-followers', 'resize']),
  nodes: z.array(Id),
});
type Detail = Record<string, unknown>;

const reason = (error: unknown) =>
  error instanceof OperationFailure ? error.reason : error instanceof Error ? error.message : String(error);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class PlanChange {
  private constructor(
    private readonly deps: ReconcileDeps,
    private readonly run: OperationRun,
    readonly params: z.infer<typeof Params>,
    readonly from: Plan,
    readonly to: Plan,
    /** The PostgreSQL parameters set on the cluster (`config set`): every node keeps them. */
    private readonly parameters: Record<string, string>,
    /** The cluster's TLS is forced (`tls --force`): every node keeps its hostssl-only pg_hba.conf. */
    private readonly forceTls: boolean,
  ) {}

  static async load(deps: ReconcileDeps, run: OperationRun): Promise<PlanChange> {
    const params = Params.safeParse(run.operation.params);
    const from = params.success ? findPlan(params.data.from) : undefined;
    const to = params.success ? findPlan(params.data.to) : undefined;
    if (!params.success || !from || !to) throw new OperationFailure('check', 'the operation does not name two plans');
    const [{ view }, gateways] = await Promise.all([
      loadCluster(deps.store, run.clusterId),
      fromStore('read', () => deps.store.readStream(streamIds.gateway(run.clusterId))),
    ]);
    const { tlsForced } = foldGateways(gateways.events);
    return new PlanChange(deps, run, params.data, from, to, view.parameters, tlsForced);
  }

  /** Run a step; a failure of a node or of PostgreSQL fails the operation at it, a lost store is thrown. */
  step(name: string, fn: () => Promise<Detail>): Promise<Detail> {
    return this.run.step(name, async () => {
      try {
        return await fn();
      } catch (error) {
        if (error instanceof OperationFailure || error instanceof StoreUnavailable) throw error;
        throw new OperationFailure(name, reason(error));
      }
    });
  }

  private get clusterId() {
    return this.run.clusterId;
  }
  private rid = (nodeId: string) => runtimeNodeId(this.clusterId, nodeId);
  private endpoint = (nodeId: string) => this.deps.runtime.endpoint(this.rid(nodeId));
  private view = async (): Promise<ClusterView> => (await loadCluster(this.deps.store, this.clusterId)).view;
  /** A node's setup on the new plan (its TLS, cluster_name, archiving when the new plan has PITR, parameters). */
  private setupOf = (nodeId: string, plan: Plan = this.to): NodeSetup => ({
    ...nodeSetupOf({ clusterId: this.clusterId, plan: plan.id, parameters: this.parameters }, nodeId, this.deps.home),
    ...(this.forceTls ? { forceTls: true } : {}),
  });
  private archiveChanges = () =>
    archiveStanzaOf({ clusterId: this.clusterId, plan: this.from.id }) !==
    archiveStanzaOf({ clusterId: this.clusterId, plan: this.to.id });

  private async record(command: RecordCommand): Promise<void> {
    const meta = { correlationId: this.run.operation.operationId };
    const reply = await recordOutcome(this.deps.store, this.clusterId, command, meta);
    if (!reply.ok) throw new OperationFailure(this.current, reply.message);
  }
  private current = 'check';

  /** The cluster is ready, led by a running primary. Nothing is changed before this step. */
  async check(): Promise<Detail> {
    const view = await this.view();
    const leader = view.leader;
    if (view.status !== 'ready' || !leader) throw new OperationFailure('check', `cluster ${view.name} is not ready`);
    const sql = 'SELECT pg_is_in_recovery() AS r';
    const r = await withClient(await this.endpoint(leader), (q) => q.query<{ r: boolean }>(sql));
    if (r.rows[0]?.r !== false) throw new OperationFailure('check', `${leader} is not running as a primary`);
    return { leader };
  }

  private restart = (nodeId: string) => restartNode(this.deps, this.clusterId, nodeId);
  private streaming = (leader: string, nodeIds: readonly string[]) =>
    waitStreaming(this.deps, this.clusterId, leader, nodeIds);

  /**
   * The leader configured for the new plan (reloaded). Archiving switched on or off needs a restart
   * (archive_mode): then the stanza is made first, and the leader restarts (Sandbox <-> the others).
   */
  private async configureLeader(): Promise<Detail> {
    const view = await this.view();
    const leader = view.leader!;
    const stanza = archiveStanzaOf({ clusterId: this.clusterId, plan: this.to.id });
    if (stanza !== undefined && this.archiveChanges()) {
      await this.deps.runtime.archive.createStanza(stanza, this.rid(leader));
    }
    await this.deps.runtime.configure(this.rid(leader), this.setupOf(leader));
    if (!this.archiveChanges()) return { leader, restarted: false };
    await this.restart(leader);
    return { leader, restarted: true };
  }

  private async planRecorded(): Promise<Detail> {
    await this.record({ type: 'RecordPlanChanged', to: this.to.id });
    return { from: this.from.id, to: this.to.id };
  }

  /** Every gateway of the new plan serves the cluster's one address, and no other (60 s at most). */
  private async gateways(): Promise<Detail> {
    for (const deadline = Date.now() + 60_000; ; ) {
      const state = foldGateways((await this.deps.store.readStream(streamIds.gateway(this.clusterId))).events);
      const ids = state.gateways.map((g) => g.gatewayId).sort();
      if (ids.length === this.to.gateways) return { gateways: ids };
      if (Date.now() > deadline) {
        throw new OperationFailure('gateways', `${this.to.gateways} gateways expected, ${ids.length} serve`);
      }
      await sleep(200);
    }
  }

  // ---- Starter -> Business -------------------------------------------------------------------

  async addFollowers(): Promise<void> {
    try {
      this.current = 'configure-leader';
      await this.step('configure-leader', () => this.configureLeader());
      this.current = 'clone-followers';
      await this.step('clone-followers', () => this.cloneFollowers());
      this.current = 'replication';
      await this.step('replication', () => this.replication());
    } catch (error) {
      if (error instanceof OperationFailure) await this.undoAdd().catch(() => undefined);
      throw error;
    }
    this.current = 'plan';
    await this.step('plan', () => this.planRecorded());
    this.current = 'gateways';
    await this.step('gateways', () => this.gateways());
  }

  /** The reconciliation's clone of each new follower, in parallel (the same code as at creation). */
  private async cloneFollowers(): Promise<Detail> {
    const { deps, clusterId } = this;
    const cluster = await ClusterProgress.load(deps.store, clusterId);
    await placeClusterNodes(deps.runtime, cluster); // the new followers' hosts (docker), before they are made
    const view = cluster.view;
    const leader = view.leader!;
    if (deps.home) {
      await ensureClusterTls(
        deps.home,
        clusterId,
        view.nodes.map((n) => n.nodeId),
        { days: deps.nodeCertDays },
      );
    }
    const leaderEndpoint = await this.endpoint(leader);
    const running = await withClient(leaderEndpoint, (q) =>
      q.query<{ n: string }>("SELECT current_setting('max_connections') AS n"),
    );
    // A standby refuses to start with fewer connections than its primary runs with.
    const maxConnections = Math.max(this.to.maxConnections, Number(running.rows[0]?.n ?? 0));
    const upstream = await upstreamLeaderOf(deps.runtime, deps.secrets, clusterId, leader, deps.home);
    const added = view.nodes.filter((n) => this.params.nodes.includes(n.nodeId));
    await Promise.all(
      added.map((node) =>
        ensureRunning(deps, cluster, node, view.version!, async () => {
          // A slot left by an interrupted clone would make pg_basebackup refuse to create it.
          await dropSlot(leaderEndpoint, node.nodeId);
          const setup = this.setupOf(node.nodeId);
          await deps.runtime.cloneFrom(this.rid(node.nodeId), {
            ...setup,
            plan: { ...setup.plan, maxConnections },
            leader: upstream,
            slotName: slotName(node.nodeId),
          });
        }),
      ),
    );
    return { nodes: added.map((n) => n.nodeId), maxConnections };
  }

  /** Both followers stream; synchronous replication to ANY 1 of them when the plan asks for it. */
  private async replication(): Promise<Detail> {
    const view = await this.view();
    const leader = view.leader!;
    const followers = view.nodes.map((n) => n.nodeId).filter((id) => id !== leader);
    await this.streaming(leader, followers);
    const names = this.to.synchronousReplication
      ? await setSynchronousStandbys(await this.endpoint(leader), followers.map(slotName), 1)
      : undefined;
    await this.record({ type: 'RecordReplicationEstablished', ...(names ? { synchronousStandbyNames: names } : {}) });
    return { followers, ...(names ? { synchronousStandbyNames: names } : {}) };
  }

  /** A failed addition leaves the cluster as it was: the new followers removed, replication asynchronous. */
  private async undoAdd(): Promise<void> {
    const view = await this.view();
    const leader = view.leader!;
    await setSynchronousStandbys(await this.endpoint(leader), []).catch(() => undefined);
    for (const nodeId of this.params.nodes) await this.removeFollower(leader, nodeId);
  }

  // ---- Business -> Starter -------------------------------------------------------------------

  async removeFollowers(): Promise<void> {
    this.current = 'sync-off';
    await this.step('sync-off', async () => {
      // Before any follower goes: commits waiting for a follower that is gone would hang.
      const leader = (await this.view()).leader!;
      await setSynchronousStandbys(await this.endpoint(leader), []);
      return { synchronousStandbyNames: '' };
    });
    this.current = 'plan';
    await this.step('plan', () => this.planRecorded());
    this.current = 'remove-followers';
    await this.step('remove-followers', async () => {
      const leader = (await this.view()).leader!;
      for (const nodeId of this.params.nodes) await this.removeFollower(leader, nodeId);
      return { removed: this.params.nodes };
    });
    this.current = 'configure-leader';
    await this.step('configure-leader', () => this.configureLeader());
    this.current = 'gateways';
    await this.step('gateways', () => this.gateways());
  }

  /** Stop the follower, remove its data, drop its slot on the leader, record NodeRemoved. Idempotent. */
  private async removeFollower(leader: string, nodeId: string): Promise<void> {
    if (nodeId === leader) throw new OperationFailure(this.current, `${nodeId} became the leader; it is not removed`);
    await this.deps.runtime.remove(this.rid(nodeId));
    await dropSlot(await this.endpoint(leader), nodeId);
    await this.record({ type: 'RecordNodeRemoved', nodeId });
  }

  // ---- same number of nodes ------------------------------------------------------------------

  async resize(): Promise<void> {
    const view = await this.view();
    const leader = view.leader!;
    const followers = view.nodes.map((n) => n.nodeId).filter((id) => id !== leader);
    const steps = {
      deps: this.deps,
      run: this.run,
      step: (name: string, fn: () => Promise<Detail>) => this.step(name, fn),
      entering: (name: string) => {
        this.current = name;
      },
      beforeRestart: async (nodeId: string) => {
        if (this.archiveChanges() && nodeId === leader) {
          const stanza = archiveStanzaOf({ clusterId: this.clusterId, plan: this.to.id });
          if (stanza !== undefined) await this.deps.runtime.archive.createStanza(stanza, this.rid(nodeId));
        }
        await this.deps.runtime.configure(this.rid(nodeId), this.setupOf(nodeId));
      },
    };
    // Fewer connections: lowered on the primary first (a standby may not have fewer than its primary).
    await rollingRestart(steps, { leader, followers, leaderFirst: this.to.maxConnections < this.from.maxConnections });
    this.current = 'plan';
    await this.step('plan', () => this.planRecorded());
  }
}

/**
 * Drop a node's replication slot on the leader when it has one; a slot still active (its walsender
 * has not noticed the follower is gone yet) is tried again for 10 s.
 */
async function dropSlot(leader: Parameters<typeof withClient>[0], nodeId: string): Promise<void> {
  const sql = 'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1';
  for (let attempt = 1; ; attempt++) {
    try {
      await withClient(leader, (q) => q.query(sql, [slotName(nodeId)]));
      return;
    } catch (error) {
      if (attempt >= 50) throw error;
      await sleep(200);
    }
  }
}
