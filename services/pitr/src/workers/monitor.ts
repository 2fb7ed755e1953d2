import type { PitrClusters } from '../projections/pitrClusters.js';
import { archivedLeader, loadCluster } from './cluster.js';
import type { PitrDeps } from './deps.js';
import { sampleArchiver } from './archiverSample.js';
import { recordPitr } from './record.js';

export interface MonitorOptions {
  intervalMs: number;
  lagThresholdSeconds: number;
  /** Bring a cluster up to date (the service's per-cluster work queue). */
  request(clusterId: string): Promise<void>;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Every `intervalMs`: read the archiver of every archiving cluster's leader and record its health
 * on a transition only (WalArchivingDelayed / Failed / Recovered); then run every cluster's work,
 * which retries enabling archiving where it did not work yet and removes the archives of deleted
 * clusters whose time is up (that timer survives restarts: it is a date in the stream, checked here).
 */
export class ArchiverMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly deps: PitrDeps,
    private readonly clusters: PitrClusters,
    private readonly options: MonitorOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.tick().finally(() => {
        this.running = undefined;
      });
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async tick(): Promise<void> {
    for (const clusterId of this.clusters.archiving()) await this.watch(clusterId);
    // Every cluster's work runs again (not awaited: a full backup in one cluster must not stop the
    // sampling): a failed enable or backup is retried, a kept archive whose time is up is removed.
    for (const clusterId of this.clusters.all()) void this.options.request(clusterId).catch(() => undefined);
  }

  /** One sample of the cluster's leader; a leader that cannot be reached is the HA service's business. */
  async watch(clusterId: string): Promise<void> {
    const target = archivedLeader(clusterId, await loadCluster(this.deps.store, clusterId));
    if (!target) return;
    try {
      const sample = await sampleArchiver(this.deps.runtime, target.leader);
      const command = { type: 'RecordArchiver', sample, thresholdSeconds: this.options.lagThresholdSeconds } as const;
      await recordPitr(this.deps.store, clusterId, command);
    } catch (error) {
      this.deps.log.debug({ clusterId, err: messageOf(error) }, 'archiver not sampled');
    }
  }
}
