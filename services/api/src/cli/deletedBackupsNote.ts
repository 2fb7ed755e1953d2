import { setTimeout as delay } from 'node:timers/promises';
import type { ApiClient } from './client.js';

/** How long `cluster delete` waits for the backup service to record how long the backups are kept. */
const WAIT_MS = 10_000;

interface BackupList {
  retainedUntil?: string | null;
  backups: Array<{ status: string }>;
}

/**
 * What `cluster delete` says about the deleted cluster's backups: "its N backups are kept until …"
 * once the backup service recorded it (BackupsRetained), the plan's retention if it did not answer
 * in time; nothing when the cluster had no completed backup.
 */
export async function backupsNote(api: ApiClient, name: string): Promise<{ note: string; retainedUntil?: string }> {
  const path = `/v1/clusters/${encodeURIComponent(name)}/backups`;
  const until = Date.now() + WAIT_MS;
  for (;;) {
    const list = await api.call<BackupList>('GET', path).catch(() => undefined);
    const kept = list?.backups.filter((b) => b.status === 'completed').length ?? 0;
    if (kept === 0) return { note: '' };
    const what = kept === 1 ? 'its backup is' : `its ${kept} backups are`;
    if (list?.retainedUntil) {
      const how = `pgfleet backup list ${name}`;
      return { note: `; ${what} kept until ${list.retainedUntil} (${how})`, retainedUntil: list.retainedUntil };
    }
    if (Date.now() > until) return { note: `; ${what} kept for the plan's retention` };
    await delay(500);
  }
}
