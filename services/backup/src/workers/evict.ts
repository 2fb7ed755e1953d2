import type { BackupsState } from '../domain/backups.js';
import type { BackupDeps } from './deps.js';
import { loadBackups, recordOutcome } from './record.js';

/**
 * Delete the files of evicted and expired backups and record BackupDeleted. Idempotent.
 * Returns the ids deleted. `read`: the stream as just read by the caller (else it is read here).
 */
export async function deleteEvicted(deps: BackupDeps, clusterId: string, read?: BackupsState): Promise<string[]> {
  const state = read ?? (await loadBackups(deps.store, clusterId));
  const gone: string[] = [];
  for (const b of state.backups.filter((x) => x.status === 'evicted' || x.status === 'expired')) {
    await deps.files.delete(clusterId, b.backupId);
    const r = await recordOutcome(deps.store, clusterId, { type: 'DeleteBackup', backupId: b.backupId });
    if (r.ok) gone.push(b.backupId);
  }
  if (gone.length) deps.log.info({ clusterId, backupIds: gone }, 'backup files deleted');
  return gone;
}
