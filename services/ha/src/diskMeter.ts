import {
  findPlan,
  runtimeNodeId,
  streamIds,
  type Actor,
  type ClusterView,
  type DiskEvent,
  type Plan,
} from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { handleCommand, type Logger } from '@pgfleet/kit';
import { databasesSize } from '@pgfleet/postgres';
import type { NodeRuntime } from '@pgfleet/runtime';
import { decideDiskQuota, diskQuotaDecider, type DiskQuotaCommand } from './domain/diskQuota.js';

const HA_ACTOR: Actor = { kind: 'service', id: 'ha' };
const GiB = 1024 * 1024 * 1024;

export interface DiskMeterDeps {
  store: EventStore;
  runtime: NodeRuntime;
  log: Logger;
  /** The clusters as the ha projection folds them (the watcher's). */
  views: ReadonlyMap<string, ClusterView>;
}

export interface DiskMeterSettings {
  /** Each ready cluster is measured this often. */
  intervalMs: number;
  /** Every cluster's limit in bytes instead of its plan's `diskGb` (tests and trials). */
  limitBytes?: number;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Measures the data of every ready cluster each `intervalMs` — the databases' size on its leader
 * (followers replicate the same files), asked over the runtime's superuser endpoint — and records
 * what it says on the cluster's `disk-{clusterId}` stream through the disk quota decider: a
 * crossing once, a move by a step, nothing otherwise. A new cluster is measured at once.
 */
export class DiskMeter {
  private readonly measuredAt = new Map<string, number>();
  private readonly busy = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: DiskMeterDeps,
    private readonly settings: DiskMeterSettings,
  ) {}

  start(): void {
    const tick = Math.max(10, Math.min(1000, Math.floor(this.settings.intervalMs / 10)));
    this.timer ??= setInterval(() => this.tick(), tick);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The limit a cluster's data are judged against, in bytes. */
  limitOf(plan: Plan): number {
    return this.settings.limitBytes ?? plan.diskGb * GiB;
  }

  private tick(): void {
    for (const [clusterId, view] of this.deps.views) {
      if (view.status !== 'ready' || !view.leader || this.busy.has(clusterId)) continue;
      if (Date.now() - (this.measuredAt.get(clusterId) ?? 0) < this.settings.intervalMs) continue;
      this.measuredAt.set(clusterId, Date.now());
      this.busy.add(clusterId);
      this.measure(clusterId, view)
        .catch((error) => this.deps.log.warn({ clusterId, err: message(error) }, 'disk measurement failed'))
        .finally(() => this.busy.delete(clusterId));
    }
    for (const clusterId of this.measuredAt.keys())
      if (!this.deps.views.has(clusterId)) this.measuredAt.delete(clusterId);
  }

  /** Measure one cluster's leader and record what the decider makes of it. */
  async measure(clusterId: string, view: ClusterView): Promise<void> {
    const plan = view.plan ? findPlan(view.plan) : undefined;
    if (!plan || !view.leader) return;
    const endpoint = await this.deps.runtime.endpoint(runtimeNodeId(clusterId, view.leader));
    const used = await databasesSize({ ...endpoint, connectTimeoutMs: 5000, queryTimeoutMs: 60_000 });
    const command: DiskQuotaCommand = { type: 'RecordDiskUsage', clusterId, used, limit: this.limitOf(plan) };
    // The events of the decision that was appended (the last attempt's, after a conflict).
    let decided: DiskEvent[] = [];
    const reply = await handleCommand({
      store: this.deps.store,
      streamId: streamIds.disk(clusterId),
      ...diskQuotaDecider,
      decide: (c: DiskQuotaCommand, s) => {
        const decision = decideDiskQuota(c, s);
        decided = decision.ok ? decision.events : [];
        return decision;
      },
      command,
      meta: { actor: HA_ACTOR },
    });
    if (!reply.ok) {
      this.deps.log.warn({ clusterId, code: reply.code, reason: reply.message }, 'disk usage not recorded');
      return;
    }
    for (const event of decided) this.report(clusterId, plan, event);
  }

  /** Say what a crossing means for the cluster's writes, as its plan says. */
  private report(clusterId: string, plan: Plan, event: DiskEvent): void {
    if (event.type === 'DiskUsageBackUnderQuota') {
      this.deps.log.info({ clusterId, used: event.data.used, limit: event.data.limit }, 'disk usage back under quota');
    }
    if (event.type !== 'QuotaExceeded') return;
    const { used, limit } = event.data;
    switch (plan.diskOverQuota) {
      case 'warn':
        this.deps.log.warn({ clusterId, used, limit, plan: plan.id }, 'disk quota exceeded: writes go on (plan: warn)');
        return;
      default: {
        const never: never = plan.diskOverQuota;
        throw new Error(`unknown diskOverQuota: ${String(never)}`);
      }
    }
  }
}
