import { leaderOf, uuidv7 } from '@pgfleet/contracts';
import { archivedLeader, loadCluster, pitrFacts } from './cluster.js';
import type { PitrDeps } from './deps.js';
import { loadPitr, recordPitr } from './record.js';

/**
 * Continuous archiving of a ready Starter/Business cluster: create its stanza from the leader
 * (a no-op when it exists), have `pgbackrest check` see a WAL segment archived, then record
 * ContinuousBackupEnabled with the first full backup's request. Each step is idempotent: a run
 * interrupted before the record does them again. True once archiving is (or already was) enabled.
 */
export async function enableArchiving(deps: PitrDeps, clusterId: string): Promise<boolean> {
  if ((await loadPitr(deps.store, clusterId)).stanza !== undefined) return true;
  const view = await loadCluster(deps.store, clusterId);
  const facts = pitrFacts(clusterId, view);
  const target = archivedLeader(clusterId, view);
  if (!facts || facts.deleted || !target) return false;
  await deps.runtime.archive.createStanza(target.stanza, target.leader);
  await deps.runtime.archive.check(target.stanza, target.leader);
  const reply = await recordPitr(deps.store, clusterId, {
    type: 'EnableContinuousBackup',
    cluster: facts,
    stanza: target.stanza,
    node: leaderOf(view)!.nodeId,
    backupId: uuidv7(),
    now: deps.clock().toISOString(),
  });
  if (!reply.ok) throw new Error(`continuous archiving of cluster ${facts.name} not recorded: ${reply.message}`);
  deps.log.info({ clusterId, stanza: target.stanza }, 'continuous WAL archiving enabled');
  return true;
}
