import { foldPitr, lastPitrBackup, lastWindowRestart, restorableWindow, streamIds } from '@pgfleet/contracts';
import { z } from 'zod';
import { readArchiver } from '../domain/archiver.js';
import { sampleArchiver } from './archiverSample.js';
import { archivedLeader, loadCluster } from './cluster.js';
import type { PitrDeps } from './deps.js';

/** `pgfleet.queries.pitr.PitrArchiver {clusterId}`. */
const ArchiverQuery = z.object({ clusterId: z.string().min(1) });

/**
 * The live half of `pitr status`, answered by the pitr service: what the leader's archiver says
 * now (the window's latest end, the lag) and when the next weekly full backup runs. The rest of
 * the status is a fold of the `pitr-{clusterId}` stream that the API does itself.
 */
export async function archiverStatus(
  deps: PitrDeps,
  request: unknown,
  options: { lagThresholdSeconds: number; nextRun(clusterId: string, now: Date): Date },
) {
  const { clusterId } = ArchiverQuery.parse(request);
  const [view, { events }] = await Promise.all([
    loadCluster(deps.store, clusterId),
    deps.store.readStream(streamIds.pitr(clusterId)),
  ]);
  const state = foldPitr(events);
  const target = archivedLeader(clusterId, view);
  const now = deps.clock();
  const nextFullBackupAt = state.stanza && !state.retainedUntil ? options.nextRun(clusterId, now).toISOString() : null;
  if (!target || state.stanza === undefined) return { clusterId, archiver: null, nextFullBackupAt, window: null };
  const sample = await sampleArchiver(deps.runtime, target.leader);
  const reading = readArchiver(sample, options.lagThresholdSeconds);
  const archiver = {
    lastArchivedAt: sample.lastArchivedAt ?? null,
    lastArchivedWal: sample.lastArchivedWal ?? null,
    lastFailedAt: sample.lastFailedAt ?? null,
    failedCount: sample.failedCount,
    pendingSegments: sample.pendingSegments,
    lagSeconds: reading.lagSeconds,
    health: reading.health,
  };
  const window = restorableWindow(state, lastWindowRestart(events)?.at, sample.lastArchivedAt) ?? null;
  return { clusterId, archiver, nextFullBackupAt, window, lastFullBackup: lastPitrBackup(state) ?? null };
}
