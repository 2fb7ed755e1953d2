import type { EventEnvelope } from '@pgfleet/contracts';
import type { ProjectionDeclaration } from '@pgfleet/kit';

/**
 * Which clusters have backups (work a restarted service may have to resume) and which have a
 * daily schedule (a cron task to arm). In memory, rebuilt from the store at every start and
 * kept live, so the service never scans the whole log to find them.
 */
export class BackupClusters {
  private readonly withBackups = new Set<string>();
  private readonly withSchedule = new Set<string>();

  apply(event: EventEnvelope): void {
    if (event.type === 'BackupRequested') this.withBackups.add(event.data.clusterId);
    if (event.type === 'BackupScheduleSet') this.withSchedule.add(event.data.clusterId);
  }

  /** Clusters that ever had a backup requested. */
  backedUp(): string[] {
    return [...this.withBackups];
  }

  /** Clusters with a daily schedule. */
  scheduled(): string[] {
    return [...this.withSchedule];
  }

  /** Its declaration for the service kit: fed with the two event types it reads. */
  projection(): ProjectionDeclaration {
    return { name: 'clusters', types: ['BackupRequested', 'BackupScheduleSet'], apply: (e) => this.apply(e) };
  }
}
