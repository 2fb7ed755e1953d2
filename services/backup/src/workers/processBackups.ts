import type { BackupDeps } from './deps.js';
import { deleteEvicted } from './evict.js';
import { loadBackups } from './record.js';
import { runDump, type DumpOutcome, type RunDumpOptions } from './runDump.js';

/**
 * Bring one cluster's backups up to date with its stream: delete the files of evicted and
 * expired backups, then take every requested backup in order. Safe to run again at any time.
 */
export async function processBackups(
  deps: BackupDeps,
  clusterId: string,
  options: RunDumpOptions = {},
): Promise<DumpOutcome[]> {
  // One read for both: deleting files changes no requested backup.
  const state = await loadBackups(deps.store, clusterId);
  await deleteEvicted(deps, clusterId, state);
  const outcomes: DumpOutcome[] = [];
  for (const b of state.backups.filter((x) => x.status === 'requested')) {
    // The first dump goes on the stream just read; after a dump, the next one reads it again.
    const read = outcomes.length === 0 ? { read: state } : {};
    outcomes.push(await runDump(deps, clusterId, b.backupId, { ...options, ...read }));
  }
  return outcomes;
}
