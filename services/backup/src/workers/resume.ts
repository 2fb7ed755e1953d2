import type { BackupDeps } from './deps.js';
import { processBackups } from './processBackups.js';
import { loadBackups, recordOutcome } from './record.js';
import type { DumpOutcome } from './runDump.js';

export const INTERRUPTED = 'interrupted';

/**
 * Crash safety, run once per cluster when the service starts (before it takes any dump of it):
 * a backup Started but neither Completed nor Failed belonged to a process that died mid-dump;
 * its partial file is removed and it is marked BackupFailed{reason:'interrupted'} (not retried:
 * the user sees one honest failure and may ask again; the next daily slot takes a new one).
 * Then requested backups run and evicted/expired files go. A dump is never taken twice:
 * BackupStarted is appended with the expected version, and a failed backup never restarts.
 */
export async function resumeBackups(
  deps: BackupDeps,
  clusterId: string,
): Promise<{ interrupted: string[]; outcomes: DumpOutcome[] }> {
  const state = await loadBackups(deps.store, clusterId);
  const interrupted: string[] = [];
  for (const b of state.backups.filter((x) => x.status === 'running')) {
    await deps.files.delete(clusterId, b.backupId);
    const fail = { type: 'FailBackup', backupId: b.backupId, reason: INTERRUPTED } as const;
    const r = await recordOutcome(deps.store, clusterId, fail);
    if (r.ok) interrupted.push(b.backupId);
  }
  if (interrupted.length) {
    deps.log.warn({ clusterId, backupIds: interrupted }, 'backups interrupted by a crash marked failed');
  }
  return { interrupted, outcomes: await processBackups(deps, clusterId) };
}
