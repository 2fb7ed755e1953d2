import { findPlan, streamIds, type EventEnvelope } from '@pgfleet/contracts';
import { handleCommand } from '@pgfleet/kit';
import { backupsDecider } from '../domain/backups.js';
import { loadCluster } from './cluster.js';
import type { BackupDeps } from './deps.js';

const WORKER = { kind: 'service', id: 'backup' } as const;

/**
 * A cluster's plan changed (its ClusterPlanChanged `event`): the new plan's rolling manual quota is
 * applied to the backups it already has (`QuotaExceeded`, then `BackupEvicted` for the oldest; the
 * work queue then deletes their files). The events carry the plan change's correlation id (its
 * operation) and its event id as causation. Idempotent by event id: a change whose events are
 * already on the stream (a redelivery after a crash before the ack) records nothing; and decided
 * against the stream, so two replicas cannot both evict. The plan applied is the cluster's plan
 * now, not the event's `to`: a change handled late (the service was down) after a further change
 * back to a bigger plan evicts nothing. A deleted cluster's kept backups are left to their retention.
 * Resolves with the evicted backups' ids.
 */
export async function applyPlanQuota(deps: BackupDeps, clusterId: string, event: EventEnvelope): Promise<string[]> {
  const view = await loadCluster(deps.store, clusterId);
  const plan = findPlan(view.plan ?? '');
  if (!plan || view.status === 'none' || view.status === 'deleting' || view.status === 'deleted') return [];
  const streamId = streamIds.backups(clusterId);
  const { events } = await deps.store.readStream(streamId);
  if (events.some((e) => e.causationId === event.id)) return [];
  let evicted: string[] = [];
  const reply = await handleCommand({
    store: deps.store,
    streamId,
    ...backupsDecider,
    decide: (command, state) => {
      const decision = backupsDecider.decide(command, state);
      evicted = decision.ok
        ? decision.events.flatMap((e) => (e.type === 'BackupEvicted' ? [e.data.backupId] : []))
        : [];
      return decision;
    },
    command: { type: 'ApplyPlanQuota' as const, clusterId, plan },
    meta: { actor: WORKER, correlationId: event.correlationId, causationId: event.id },
  });
  if (!reply.ok) throw new Error(`plan quota of cluster ${clusterId} not applied: ${reply.message}`);
  if (evicted.length > 0) {
    const limit = plan.backups.manualTotal;
    deps.log.info({ clusterId, plan: plan.id, limit, backupIds: evicted }, 'backups evicted by a plan change');
  }
  return evicted;
}
