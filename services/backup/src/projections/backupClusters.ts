import type { EventEnvelope } from '@pgfleet/contracts';
import type { ProjectionDeclaration } from '@pgfleet/kit';

/**
 * Which clusters have backups (work a restarted service may have to resume), which have a daily
 * schedule (a cron task to arm) and which are deleted with backups kept (a retention to check).
 * In memory, rebuilt from the store at every start and kept live, so the service never scans the
 * whole log to find them.
 */
export class BackupClusters {
  private readonly withBackups = new Set<string>();
  private readonly withSchedule = new Set<string>();
  private readonly kept = new Set<string>();

  apply(event: EventEnvelope): void {
    if (event.type === 'BackupRequested') this.withBackups.add(event.data.clusterId);
    if (event.type === 'BackupScheduleSet') this.withSchedule.add(event.data.clusterId);
    if (event.type === 'BackupScheduleRemoved') this.withSchedule.delete(event.data.clusterId);
    if (event.type === 'BackupsRetained') this.kept.add(event.data.clusterId);
  }

  /** Deleted clusters whose backups were kept (BackupsRetained): their retention is checked. */
  retained(): string[] {
    return [...this.kept];
  }

  /** Clusters that ever had a backup requested. */
  backedUp(): string[] {
    return [...this.withBackups];
  }

  /** Clusters with a daily schedule. */
  scheduled(): string[] {
    return [...this.withSchedule];
  }

  /** Its declaration for the service kit: fed with the event types it reads. */
  projection(): ProjectionDeclaration {
    const types = ['BackupRequested', 'BackupScheduleSet', 'BackupScheduleRemoved', 'BackupsRetained'];
    return { name: 'clusters', types, apply: (e) => this.apply(e) };
  }
}
