import { setTimeout as delay } from 'node:timers/promises';
import type { PitrStatus } from '../http/pitrStatus.js';
import type { ApiClient } from './client.js';

/** How long `cluster delete` waits for the pitr service to record how long the archive is kept. */
const WAIT_MS = 10_000;

/**
 * What `cluster delete` says about the deleted cluster's PITR archive: "its PITR archive is kept
 * until …" once the pitr service recorded it (PitrArchiveRetained), the plan's days if it did not
 * answer in time; nothing on a plan without PITR or when archiving never began.
 */
export async function archiveNote(api: ApiClient, name: string): Promise<{ note: string; retainedUntil?: string }> {
  const path = `/v1/clusters/${encodeURIComponent(name)}/pitr`;
  const until = Date.now() + WAIT_MS;
  for (;;) {
    const s = await api.call<PitrStatus>('GET', path).catch(() => undefined);
    if (!s?.archiving.enabled) return { note: '' };
    if (s.retainedUntil) {
      const how = `pgfleet pitr restore ${name} --to TIME --into NEWNAME`;
      return { note: `; its PITR archive is kept until ${s.retainedUntil} (${how})`, retainedUntil: s.retainedUntil };
    }
    if (Date.now() > until) return { note: `; its PITR archive is kept for ${s.pitrDays} days` };
    await delay(500);
  }
}
