import { setTimeout as delay } from 'node:timers/promises';
import { findPlan, runningOperation, runtimeNodeId, uuidv7, type ClusterView } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import type { Logger } from '@pgfleet/kit';
import { setSynchronousStandbys } from '@pgfleet/postgres';
import type { NodeRuntime } from '@pgfleet/runtime';
import { assessCluster, type AssessSettings, type HaAction, type NodeWatch } from './domain/assess.js';
import { probeNode } from './probe.js';
import { recordHa } from './record.js';

export interface WatcherDeps {
  store: EventStore;
  runtime: NodeRuntime;
  log: Logger;
  /** Run the cluster's operation now (this replica won its request). */
  runOperationNow(clusterId: string): void;
}

export interface WatcherSettings extends AssessSettings {
  intervalMs: number;
  probeTimeoutMs: number;
  /** After a failover that could not be started or failed, wait this long before the next attempt. */
  failoverBackoffMs: number;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Probes every data node of every ready cluster each `intervalMs`, keeps what it saw per node,
 * and acts on what `assessCluster` says. One cluster's round never overlaps the next one; a slow
 * cluster does not hold the others back.
 */
export class Watcher {
  /** Clusters as the projection folds them. */
  readonly views = new Map<string, ClusterView>();
  private readonly watches = new Map<string, Map<string, NodeWatch>>();
  private readonly busy = new Set<string>();
  private readonly roundStartedAt = new Map<string, number>();
  /** The probe under way of each node (`clusterId/nodeId`). */
  private readonly probing = new Map<string, Promise<void>>();
  /** Per cluster, the last failover attempted: a failover of the same leader again waits until `until`. */
  private readonly lastAttempt = new Map<string, { from: string; until: number }>();
  private readonly resumedAt = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: WatcherDeps,
    private readonly settings: WatcherSettings,
  ) {}

  /**
   * Rounds start every `intervalMs` per cluster; one that took longer is followed within a tick
   * (a tenth of the interval), not at the next multiple of the interval.
   */
  start(): void {
    this.timer ??= setInterval(() => this.tick(), Math.max(10, Math.floor(this.settings.intervalMs / 10)));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The latest probe of a node, for the gateways' agent. */
  watchOf(clusterId: string, nodeId: string): NodeWatch | undefined {
    return this.watches.get(clusterId)?.get(nodeId);
  }

  private tick(): void {
    for (const [clusterId, view] of this.views) {
      // A running HA operation whose executor died with its replica is taken over (one executor at
      // a time: a run that cannot take the operation's lock skips it).
      const op = runningOperation(view.ops);
      if (
        (op?.kind === 'failover' || op?.kind === 'rejoin') &&
        Date.now() - (this.resumedAt.get(clusterId) ?? 0) > 3000
      ) {
        this.resumedAt.set(clusterId, Date.now());
        this.deps.runOperationNow(clusterId);
      }
      if (view.status !== 'ready' || this.busy.has(clusterId)) continue;
      if (Date.now() - (this.roundStartedAt.get(clusterId) ?? 0) < this.settings.intervalMs) continue;
      this.roundStartedAt.set(clusterId, Date.now());
      this.busy.add(clusterId);
      this.round(clusterId, view)
        .catch((error) => this.deps.log.warn({ clusterId, err: message(error) }, 'ha round failed'))
        .finally(() => this.busy.delete(clusterId));
    }
    for (const clusterId of this.watches.keys()) {
      if (this.views.has(clusterId)) continue;
      this.watches.delete(clusterId);
      this.roundStartedAt.delete(clusterId);
    }
  }

  /**
   * Probe the cluster's nodes, then act on what is known after at most `intervalMs`: a probe that
   * has not answered by then (a frozen server, until its timeout) goes on and is counted when it
   * ends, while the other nodes are probed again at the next round. A node has one probe at a time.
   */
  async round(clusterId: string, view: ClusterView): Promise<void> {
    const watches = this.watches.get(clusterId) ?? new Map<string, NodeWatch>();
    this.watches.set(clusterId, watches);
    const probes = view.nodes.map((node) => {
      const key = `${clusterId}/${node.nodeId}`;
      const pending = this.probing.get(key);
      if (pending) return pending;
      const probing = this.probe(clusterId, node.nodeId, watches).finally(() => this.probing.delete(key));
      this.probing.set(key, probing);
      return probing;
    });
    await Promise.race([Promise.all(probes), delay(this.settings.intervalMs)]);
    const current = this.views.get(clusterId) ?? view;
    const leaderWatch = current.leader ? watches.get(current.leader) : undefined;
    if (leaderWatch?.unreachableSince !== undefined) {
      // While the leader is silent, what each follower said: why a failover is (not yet) decided.
      const followers = Object.fromEntries(
        [...watches].filter(([id]) => id !== current.leader).map(([id, w]) => [id, w.last]),
      );
      this.deps.log.debug(
        { clusterId, silentMs: Date.now() - leaderWatch.unreachableSince, followers },
        'leader silent',
      );
    }
    for (const action of assessCluster(current, watches, Date.now(), this.settings)) {
      await this.act(clusterId, current, action).catch((error) =>
        this.deps.log.warn({ clusterId, action: action.kind, err: message(error) }, 'ha action failed'),
      );
    }
  }

  /** Probe one node and remember what it said; a failed run of probes counts from the first one's start. */
  private async probe(clusterId: string, nodeId: string, watches: Map<string, NodeWatch>): Promise<void> {
    const startedAt = Date.now();
    const probe = await probeNode(this.deps.runtime, runtimeNodeId(clusterId, nodeId), this.settings.probeTimeoutMs);
    // While an operation moves nodes (a failover cuts the followers off), a leader alone is expected.
    const ops = this.views.get(clusterId)?.ops;
    const operating = ops !== undefined && runningOperation(ops) !== undefined;
    const before = watches.get(nodeId) ?? {};
    const streaming = probe.streamingStandbys;
    watches.set(nodeId, {
      last: probe,
      unreachableSince: probe.reachable ? undefined : (before.unreachableSince ?? startedAt),
      noStandbySince:
        operating || streaming === undefined || streaming.length > 0 ? undefined : (before.noStandbySince ?? startedAt),
      lastStreaming: streaming ?? before.lastStreaming,
    });
  }

  private async act(clusterId: string, view: ClusterView, action: HaAction): Promise<void> {
    const { store, runtime, log } = this.deps;
    const rid = (nodeId: string) => runtimeNodeId(clusterId, nodeId);
    switch (action.kind) {
      case 'health': {
        const { nodeId, health, reason, timeline, lagBytes } = action;
        const reply = await recordHa(store, clusterId, {
          type: 'RecordNodeHealth',
          nodeId,
          health,
          reason,
          timeline,
          lagBytes,
        });
        if (!reply.ok) log.warn({ clusterId, nodeId, code: reply.code, reason: reply.message }, 'health not recorded');
        return;
      }
      case 'restart': {
        const { pid } = await runtime.start(rid(action.nodeId));
        log.warn({ clusterId, nodeId: action.nodeId, pid }, 'server restarted in place');
        await recordHa(store, clusterId, {
          type: 'RecordNodeRestarted',
          nodeId: action.nodeId,
          pid,
          reason: action.reason,
        });
        return;
      }
      case 'failover': {
        // Only a failover of the same leader again (the last one could not start, or failed) waits:
        // the leader a failover made may be lost a moment later and is failed over at once.
        const last = this.lastAttempt.get(clusterId);
        if (last?.from === action.from && Date.now() < last.until) return;
        this.lastAttempt.set(clusterId, { from: action.from, until: Date.now() + this.settings.failoverBackoffMs });
        const operationId = uuidv7();
        const reply = await recordHa(store, clusterId, {
          type: 'StartFailover',
          operationId,
          from: action.from,
          term: view.term + 1,
          reason: action.reason,
          params: { streaming: action.streaming, automatic: true },
        });
        if (!reply.ok) {
          log.info({ clusterId, code: reply.code, reason: reply.message }, 'failover not started');
          return;
        }
        log.warn({ clusterId, operationId, from: action.from, reason: action.reason }, 'failover started');
        this.deps.runOperationNow(clusterId);
        return;
      }
      case 'rejoin': {
        const reply = await recordHa(store, clusterId, {
          type: 'RequestRejoin',
          operationId: uuidv7(),
          nodeId: action.nodeId,
          reason: action.reason,
        });
        if (reply.ok) this.deps.runOperationNow(clusterId);
        return;
      }
      case 'degrade': {
        // Recorded first: a failover that starts meanwhile refuses it, and the leader is not left alone.
        const reply = await recordHa(store, clusterId, {
          type: 'DegradeSync',
          leader: action.leader,
          reason: action.reason,
        });
        if (!reply.ok) return;
        await setSynchronousStandbys(await runtime.endpoint(rid(action.leader)), []);
        log.warn({ clusterId, leader: action.leader, reason: action.reason }, 'synchronous replication degraded');
        return;
      }
      case 'reapply-async':
        await setSynchronousStandbys(await runtime.endpoint(rid(action.leader)), []);
        return;
      case 'restore': {
        const plan = view.plan ? findPlan(view.plan) : undefined;
        if (!plan?.synchronousReplication) return;
        const names = await setSynchronousStandbys(await runtime.endpoint(rid(action.leader)), action.names, 1);
        await recordHa(store, clusterId, {
          type: 'RestoreSync',
          leader: action.leader,
          synchronousStandbyNames: names,
        });
        log.info({ clusterId, leader: action.leader, names }, 'synchronous replication restored');
        return;
      }
      default: {
        const never: never = action;
        return never;
      }
    }
  }
}
