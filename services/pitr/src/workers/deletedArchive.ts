import { archiveStanzaOf } from '@pgfleet/contracts';
import { loadCluster, pitrFacts } from './cluster.js';
import type { PitrDeps } from './deps.js';
import { loadPitr, recordPitr } from './record.js';

/**
 * A deleted cluster's archive is kept for its plan's PITR window (PitrArchiveRetained {until}),
 * so a cluster deleted by mistake can still be restored into a new one. A cluster whose archiving
 * never began has nothing to keep: its stanza, if a first attempt created one, is removed at once.
 */
export async function retainArchive(deps: PitrDeps, clusterId: string, deletedAt: string): Promise<void> {
  const view = await loadCluster(deps.store, clusterId);
  const facts = pitrFacts(clusterId, view);
  const stanza = archiveStanzaOf(view);
  if (!facts || stanza === undefined) return;
  if ((await loadPitr(deps.store, clusterId)).stanza === undefined) {
    await deps.runtime.archive.remove(stanza);
    return;
  }
  const reply = await recordPitr(deps.store, clusterId, { type: 'RetainArchive', cluster: facts, deletedAt });
  if (!reply.ok) throw new Error(`archive of cluster ${facts.name} not retained: ${reply.message}`);
}

/** Once its `until` passed, remove a deleted cluster's archive (stanza-delete; idempotent) and record it. */
export async function removeExpiredArchive(deps: PitrDeps, clusterId: string): Promise<boolean> {
  const state = await loadPitr(deps.store, clusterId);
  const until = state.retainedUntil;
  if (until === undefined || state.removed || state.stanza === undefined) return false;
  if (Date.parse(until) > deps.clock().getTime()) return false;
  await deps.runtime.archive.remove(state.stanza);
  await recordPitr(deps.store, clusterId, { type: 'RecordArchiveRemoved', clusterId });
  deps.log.info({ clusterId, stanza: state.stanza, until }, 'archive of a deleted cluster removed');
  return true;
}
