import { findPlan, type EventEnvelope } from '@pgfleet/contracts';
import type { BackupRow } from '../http/backupSchemas.js';
import type { ApiClient } from './client.js';
import type { Accepted, OperationEnd, Settle } from './operationWait.js';

/** How long `cluster plan` waits, once the change ended, for the backup service's evictions. */
const EVICTIONS_WAIT_MS = 30_000;

/**
 * The manual backups a plan change will evict: the backup service applies the new plan's rolling
 * quota when it sees ClusterPlanChanged (QuotaExceeded, then BackupEvicted for the oldest completed
 * ones), on its own, after the change's `plan` step. So `cluster plan` counts before the change how
 * many should go (`expected`), follows the cluster's backups stream with the operation, and once the
 * operation ended waits for that many BackupEvicted events of its operation (correlation id).
 */
export class PlanEvictions {
  readonly evicted: string[] = [];
  private constructor(
    readonly expected: number,
    readonly limit: number,
  ) {}

  /** Before the change: the cluster's kept manual backups against the new plan's limit (0 when unknown). */
  static async before(api: ApiClient, name: string, plan: string): Promise<PlanEvictions> {
    const limit = findPlan(plan)?.backups.manualTotal;
    if (limit === undefined) return new PlanEvictions(0, 0);
    const listed = await api
      .call<{ backups: BackupRow[] }>('GET', `/v1/clusters/${encodeURIComponent(name)}/backups`)
      .catch(() => ({ backups: [] as BackupRow[] }));
    const manual = listed.backups.filter((b) => b.kind === 'manual');
    const completed = manual.filter((b) => b.status === 'completed').length;
    return new PlanEvictions(Math.max(0, Math.min(manual.length - limit, completed)), limit);
  }

  /** The streams to follow besides the cluster's. */
  streams = (accepted: Accepted): string[] => (accepted.clusterId ? [`backups-${accepted.clusterId}`] : []);

  settle = (accepted: Accepted): Settle => ({
    observe: (e: EventEnvelope) => {
      if (e.type === 'BackupEvicted' && e.correlationId === accepted.operationId) this.evicted.push(e.data.backupId);
    },
    settled: () => this.evicted.length >= this.expected,
    timeoutMs: EVICTIONS_WAIT_MS,
    onTimeout: (end: OperationEnd) => {
      const sentence =
        `the backup service has not evicted the ${this.expected} oldest on-demand backups over the quota of ` +
        `${this.limit} yet (operation ${end.operationId}); "pgfleet backup list" shows what it kept\n`;
      process.stderr.write(sentence);
    },
  });

  /** What the change evicted, for the line `cluster plan` prints ('' when nothing). */
  sentence(): string {
    if (this.evicted.length === 0) return '';
    const n = this.evicted.length;
    const which = n === 1 ? 'the oldest was' : `the ${n} oldest were`;
    return `; the new plan keeps ${this.limit} on-demand backups: ${which} evicted (${this.evicted.join(', ')})`;
  }
}
