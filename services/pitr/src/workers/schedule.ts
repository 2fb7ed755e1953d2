import cron, { type ScheduledTask } from 'node-cron';
import { foldBackups, streamIds } from '@pgfleet/contracts';
import {
  DEFAULT_WEEKLY,
  dueWeeklySlot,
  FULL_BACKUP_WEEKDAY,
  nextWeeklySlot,
  type WeeklySchedule,
} from '../domain/weeklySlot.js';
import type { PitrClusters } from '../projections/pitrClusters.js';
import { requestPitrBackup } from '../commands.js';
import type { PitrDeps } from './deps.js';
import { loadPitr } from './record.js';

const SYSTEM = { kind: 'system', id: 'pitr-schedule' } as const;

/**
 * Weekly full backups, on Sundays at the cluster's preferred HH:MM (the backup service's daily
 * schedule, else 02:00 UTC). `tick(clusterId, now)` is the whole behaviour and takes the time as
 * an argument: when the latest weekly slot has no full backup yet, request one (its id derived
 * from the slot, so two ticks ask for one). node-cron calls it at the slot in the schedule's zone;
 * `start` calls it once per cluster, which runs a slot missed while the platform was down.
 */
export class WeeklyScheduler {
  private readonly tasks = new Map<
    string,
    { task: ScheduledTask; pattern: string; tz: string; schedule: WeeklySchedule }
  >();

  constructor(
    private readonly deps: PitrDeps,
    private readonly clusters: PitrClusters,
    private readonly process: (clusterId: string) => Promise<unknown>,
  ) {}

  /** The cluster's preferred time: its daily backup schedule (read from `backups-{clusterId}`), else the default. */
  private async scheduleOf(clusterId: string): Promise<WeeklySchedule> {
    const { events } = await this.deps.store.readStream(streamIds.backups(clusterId));
    const schedule = foldBackups(events).schedule;
    return schedule ? { at: schedule.at, tz: schedule.tz } : DEFAULT_WEEKLY;
  }

  async tick(clusterId: string, now: Date): Promise<string | undefined> {
    const schedule = await this.scheduleOf(clusterId);
    const slot = dueWeeklySlot(await loadPitr(this.deps.store, clusterId), schedule, now);
    if (!slot) return undefined;
    const meta = { actor: SYSTEM, commandId: `weekly-${slot.toISOString()}` };
    const reply = await requestPitrBackup(this.deps, { clusterId }, meta, { now, kind: 'weekly' });
    if (!reply.ok) {
      this.deps.log.warn({ clusterId, code: reply.code, reason: reply.message }, 'weekly full backup not requested');
      return undefined;
    }
    await this.process(clusterId);
    return typeof reply.result?.backupId === 'string' ? reply.result.backupId : undefined;
  }

  /** (Re)arm the cluster's cron task from its current preferred time. */
  async watch(clusterId: string): Promise<void> {
    const schedule = await this.scheduleOf(clusterId);
    const [h, m] = schedule.at.split(':').map(Number);
    const pattern = `${m} ${h} * * ${FULL_BACKUP_WEEKDAY}`;
    const current = this.tasks.get(clusterId);
    if (current && current.pattern === pattern && current.tz === schedule.tz) return;
    void current?.task.destroy();
    const task = cron.schedule(
      pattern,
      async () => {
        try {
          await this.tick(clusterId, this.deps.clock());
        } catch (error) {
          this.deps.log.error({ clusterId, err: String(error) }, 'weekly full backup failed');
        }
      },
      { timezone: schedule.tz, name: `pitr-weekly-${clusterId}`, noOverlap: true },
    );
    this.tasks.set(clusterId, { task, pattern, tz: schedule.tz, schedule });
  }

  /** When the cluster's next weekly full backup runs. */
  nextRun(clusterId: string, now: Date): Date {
    return nextWeeklySlot(this.tasks.get(clusterId)?.schedule ?? DEFAULT_WEEKLY, now);
  }

  /** Forget a cluster (deleted): its task stops. */
  async unwatch(clusterId: string): Promise<void> {
    await this.tasks.get(clusterId)?.task.destroy();
    this.tasks.delete(clusterId);
  }

  /** Arm every archiving cluster's task and run the slots missed while down. */
  async start(): Promise<void> {
    for (const id of this.clusters.archiving()) {
      await this.watch(id);
      try {
        await this.tick(id, this.deps.clock());
      } catch (error) {
        this.deps.log.error({ clusterId: id, err: String(error) }, 'missed weekly full backup failed');
      }
    }
  }

  async stop(): Promise<void> {
    for (const { task } of this.tasks.values()) await task.destroy();
    this.tasks.clear();
  }
}
