import { uuidv7 } from '@pgfleet/contracts';
import { KeyedQueue } from '@pgfleet/kit';
import { removeExpiredArchive } from './deletedArchive.js';
import type { PitrDeps } from './deps.js';
import { enableArchiving } from './enable.js';
import { processFullBackups } from './fullBackup.js';
import { loadPitr, recordPitr } from './record.js';

/**
 * The service's PITR work, one run per cluster at a time (a request during a run makes one more
 * run follow it). A run brings the cluster up to date with its streams: archiving enabled once it
 * is ready, requested full backups taken, a deleted cluster's archive removed once its time is
 * up. Nothing runs before `resume`; the first run of each cluster then settles what a crash left:
 * a full backup started and never finished is failed and asked for again (pgBackRest cleans or
 * resumes its partial copy), never reported twice.
 */
export class PitrWork {
  private readonly queue: KeyedQueue;
  private readonly resumed = new Set<string>();
  private readonly started: Promise<void>;
  private open: () => void = () => undefined;
  private stopping = false;

  constructor(private readonly deps: PitrDeps) {
    this.started = new Promise((resolve) => {
      this.open = resolve;
    });
    this.queue = new KeyedQueue(
      (clusterId) => this.run(clusterId),
      (clusterId, error) => deps.log.error({ clusterId, err: messageOf(error) }, 'pitr work failed'),
    );
  }

  /** Resolves once a run that saw this request ended (rejects when it failed). */
  request(clusterId: string): Promise<void> {
    return this.queue.request(clusterId);
  }

  /** At start: let work run, and run every known cluster once. */
  async resume(clusterIds: readonly string[]): Promise<void> {
    this.open();
    for (const clusterId of clusterIds) await this.queue.request(clusterId).catch(() => undefined);
    this.deps.log.info({ clusters: clusterIds.length }, 'pitr work resumed');
  }

  /** Take no new run, and resolve once the runs in progress (a full backup) ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.open();
    await this.queue.idle();
  }

  private async run(clusterId: string): Promise<void> {
    await this.started;
    if (this.stopping) return;
    if (!this.resumed.has(clusterId)) {
      await this.redoInterrupted(clusterId);
      this.resumed.add(clusterId);
    }
    if (!(await enableArchiving(this.deps, clusterId))) return;
    await processFullBackups(this.deps, clusterId);
    await removeExpiredArchive(this.deps, clusterId);
  }

  private async redoInterrupted(clusterId: string): Promise<void> {
    const state = await loadPitr(this.deps.store, clusterId);
    for (const b of state.backups.filter((x) => x.status === 'running')) {
      const now = this.deps.clock().toISOString();
      await recordPitr(this.deps.store, clusterId, {
        type: 'RedoInterruptedBackup',
        backupId: b.backupId,
        retryId: uuidv7(),
        now,
      });
      this.deps.log.warn(
        { clusterId, backupId: b.backupId },
        'full backup interrupted by a crash: failed, taken again',
      );
    }
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
