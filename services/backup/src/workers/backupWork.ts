import { KeyedQueue } from '@pgfleet/kit';
import { expireRetainedBackups } from './deletedCluster.js';
import type { BackupDeps } from './deps.js';
import { processBackups } from './processBackups.js';
import { resumeBackups } from './resume.js';

/**
 * The service's backup work, one run per cluster at a time (a request during a run makes one more
 * run follow it). Nothing runs before `resume` is called at start; then the first run of every
 * cluster that had backups settles what a crash left (interrupted dumps marked failed) before any
 * new dump of it, and a cluster whose resume failed tries it again on its next run. A run also
 * expires a deleted cluster's backups once the retention after its delete passed (at `clock()`).
 */
export class BackupWork {
  private readonly queue: KeyedQueue;
  private readonly unresumed = new Set<string>();
  private readonly started: Promise<void>;
  private open: () => void = () => undefined;
  private stopping = false;

  constructor(
    private readonly deps: BackupDeps,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.started = new Promise((resolve) => {
      this.open = resolve;
    });
    this.queue = new KeyedQueue(
      (clusterId) => this.run(clusterId),
      (clusterId, error) => deps.log.error({ clusterId, err: messageOf(error) }, 'backup work failed'),
    );
  }

  /** Bring a cluster's backups up to date with its stream; resolves once a run that saw this request ended. */
  request(clusterId: string): Promise<void> {
    return this.queue.request(clusterId);
  }

  /** At start: resume every cluster that had backups (one after the other), and let work run. */
  async resume(clusterIds: readonly string[]): Promise<void> {
    for (const clusterId of clusterIds) this.unresumed.add(clusterId);
    this.open();
    for (const clusterId of clusterIds) await this.queue.request(clusterId).catch(() => undefined);
    this.deps.log.info({ clusters: clusterIds.length }, 'backups resumed');
  }

  /** Take no new run, and resolve once the runs in progress (a dump) have ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.open();
    await this.queue.idle();
  }

  private async run(clusterId: string): Promise<void> {
    await this.started;
    if (this.stopping) return;
    if (!this.unresumed.has(clusterId)) {
      await processBackups(this.deps, clusterId);
      // A deleted cluster's backups, once the retention after its delete passed.
      await expireRetainedBackups(this.deps, clusterId, this.clock());
      return;
    }
    await resumeBackups(this.deps, clusterId);
    this.unresumed.delete(clusterId);
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
