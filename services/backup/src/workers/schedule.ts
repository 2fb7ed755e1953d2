import cron, { type ScheduledTask } from 'node-cron';
import { findPlan } from '@pgfleet/contracts';
import { requestBackup } from '../commands.js';
import { dueDailySlot } from '../domain/dailySlot.js';
import { dailiesToExpire } from '../domain/retention.js';
import { loadCluster } from './cluster.js';
import type { BackupDeps } from './deps.js';
import { processBackups } from './processBackups.js';
import { loadBackups, recordOutcome } from './record.js';

export interface TickResult {
  /** The daily backup requested by this tick, if one was due. */
  requested?: string;
  /** Dailies expired by retention. */
  expired: string[];
}

const SYSTEM = { kind: 'system', id: 'backup-schedule' } as const;

/**
 * Daily backups. `tick(clusterId, now)` is the whole behaviour and takes the time as an
 * argument (tests pass it): when the latest HH:MM slot in the schedule's time zone has no daily
 * backup yet, request one and take it; then apply the plan's retention (BackupExpired, files
 * deleted). node-cron calls it at HH:MM in the schedule's zone; `start` calls it once per
 * cluster, which runs a slot missed while the platform was down (once: the daily then exists).
 */
export class DailyScheduler {
  private readonly tasks = new Map<string, { task: ScheduledTask; pattern: string; tz: string }>();

  /**
   * `process` brings a cluster's backups up to date and resolves once it did (default: right
   * here; the service passes its per-cluster queue so a daily never races another worker run).
   */
  constructor(
    private readonly deps: BackupDeps,
    private readonly clock: () => Date = () => new Date(),
    private readonly process: (clusterId: string) => Promise<unknown> = (clusterId) => processBackups(deps, clusterId),
  ) {}

  async tick(clusterId: string, now: Date): Promise<TickResult> {
    const state = await loadBackups(this.deps.store, clusterId);
    const slot = dueDailySlot(state, now);
    let requested: string | undefined;
    if (slot) {
      const meta = { actor: SYSTEM, commandId: `daily-${clusterId}-${slot.toISOString()}` };
      const reply = await requestBackup(this.deps, { clusterId }, meta, { now, kind: 'daily' });
      if (!reply.ok) {
        this.deps.log.warn({ clusterId, code: reply.code, reason: reply.message }, 'daily backup not requested');
      } else if (typeof reply.result?.backupId === 'string') {
        requested = reply.result.backupId;
      }
      await this.process(clusterId);
    }
    return { ...(requested ? { requested } : {}), expired: await this.applyRetention(clusterId, now) };
  }

  /** Expire the dailies the plan no longer keeps and delete their files. */
  async applyRetention(clusterId: string, now: Date): Promise<string[]> {
    const plan = findPlan((await loadCluster(this.deps.store, clusterId)).plan ?? '');
    if (!plan?.backups.enabled) return [];
    const state = await loadBackups(this.deps.store, clusterId);
    const dailies = state.backups
      .filter((b) => b.kind === 'daily' && b.status === 'completed' && b.requestedAt)
      .map((b) => ({ backupId: b.backupId, requestedAt: b.requestedAt! }));
    const expire = dailiesToExpire(dailies, now.toISOString(), plan.backups.daily);
    if (expire.length === 0) return [];
    await recordOutcome(this.deps.store, clusterId, { type: 'ExpireBackups', backupIds: expire });
    await this.process(clusterId);
    this.deps.log.info({ clusterId, backupIds: expire }, 'daily backups expired');
    return expire;
  }

  /** (Re)arm the cluster's cron task from its current schedule. */
  async watch(clusterId: string): Promise<void> {
    const schedule = (await loadBackups(this.deps.store, clusterId)).schedule;
    const current = this.tasks.get(clusterId);
    if (!schedule) return;
    const [h, m] = schedule.at.split(':').map(Number);
    const pattern = `${m} ${h} * * *`;
    if (current && current.pattern === pattern && current.tz === schedule.tz) return;
    await current?.task.destroy();
    const task = cron.schedule(
      pattern,
      async () => {
        try {
          await this.tick(clusterId, this.clock());
        } catch (error) {
          const err = error instanceof Error ? error.message : String(error);
          this.deps.log.error({ clusterId, err }, 'daily backup failed');
        }
      },
      { timezone: schedule.tz, name: `daily-backup-${clusterId}`, noOverlap: true },
    );
    this.tasks.set(clusterId, { task, pattern, tz: schedule.tz });
  }

  /** Disarm the cluster's cron task (its cluster was deleted). */
  async unwatch(clusterId: string): Promise<void> {
    await this.tasks.get(clusterId)?.task.destroy();
    this.tasks.delete(clusterId);
  }

  /** When the cluster's cron task fires next (undefined without a schedule). */
  nextRun(clusterId: string): Date | undefined {
    return this.tasks.get(clusterId)?.task.getNextRun() ?? undefined;
  }

  /**
   * Arm every cluster's task and run the slots missed while down. A cluster whose missed slot fails
   * (its work run failed) is logged and left to its next slot: the others are still armed.
   */
  async start(clusterIds: readonly string[]): Promise<void> {
    for (const id of clusterIds) {
      await this.watch(id);
      try {
        await this.tick(id, this.clock());
      } catch (error) {
        const err = error instanceof Error ? error.message : String(error);
        this.deps.log.error({ clusterId: id, err }, 'missed daily backup failed');
      }
    }
  }

  async stop(): Promise<void> {
    for (const { task } of this.tasks.values()) await task.destroy();
    this.tasks.clear();
  }
}
