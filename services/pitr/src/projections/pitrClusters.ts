import { findPlan, type EventEnvelope } from '@pgfleet/contracts';
import type { ProjectionDeclaration } from '@pgfleet/kit';

interface Known {
  /** Its plan has a PITR window (Starter, Business). */
  pitr: boolean;
  deleted: boolean;
  enabled: boolean;
  removed: boolean;
}

const TYPES = [
  'ClusterRequested',
  'ClusterPlanChanged',
  'ClusterDeleted',
  'ContinuousBackupEnabled',
  'PitrArchiveRemoved',
] as const;

/**
 * Which clusters the pitr service looks after: those of plans with PITR, whether their WAL is
 * archived, whether they are deleted and their archive removed. In memory, rebuilt from the store
 * at every start and kept live, so the service never scans the whole log to find them.
 */
export class PitrClusters {
  private readonly clusters = new Map<string, Known>();

  apply(event: EventEnvelope): void {
    const id = event.streamId.slice(event.streamId.indexOf('-') + 1);
    const known = this.clusters.get(id);
    if (event.type === 'ClusterRequested') {
      const pitr = (findPlan(event.data.plan)?.pitrDays ?? 0) > 0;
      this.clusters.set(id, { pitr, deleted: false, enabled: false, removed: false });
    } else if (known && event.type === 'ClusterPlanChanged') {
      // Sandbox -> Starter: archiving is enabled at the next run; a plan without PITR keeps its archive's window.
      this.clusters.set(id, { ...known, pitr: known.pitr || (findPlan(event.data.to)?.pitrDays ?? 0) > 0 });
    } else if (known && event.type === 'ClusterDeleted') {
      this.clusters.set(id, { ...known, deleted: true });
    } else if (known && event.type === 'ContinuousBackupEnabled') {
      this.clusters.set(id, { ...known, enabled: true });
    } else if (known && event.type === 'PitrArchiveRemoved') {
      this.clusters.set(id, { ...known, removed: true });
    }
  }

  /** Clusters with PITR worth a run: live ones, and deleted ones whose archive (if any) is not removed yet. */
  all(): string[] {
    return [...this.clusters].filter(([, c]) => c.pitr && !c.removed && (c.enabled || !c.deleted)).map(([id]) => id);
  }

  /** Live clusters whose WAL is archived: their archiver is watched and their weekly backup scheduled. */
  archiving(): string[] {
    return [...this.clusters].filter(([, c]) => c.enabled && !c.deleted).map(([id]) => id);
  }

  projection(): ProjectionDeclaration {
    return { name: 'clusters', types: TYPES, apply: (e) => this.apply(e) };
  }
}
