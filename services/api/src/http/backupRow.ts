import type { Backup } from '@pgfleet/contracts';
import type { BackupRow } from './backupSchemas.js';

/** A backup as the API shows it (`backup list`, `backup create`): one row of the backups view. */
export function backupRow(b: Backup): BackupRow {
  return {
    id: b.backupId,
    kind: b.kind,
    status: b.status,
    size: b.size ?? null,
    sha256: b.sha256 ?? null,
    started: b.startedAt ?? null,
    requested: b.requestedAt ?? null,
    duration: b.durationMs ?? null,
    node: b.node ?? null,
    ...(b.onLeaderReason ? { onLeaderReason: b.onLeaderReason } : {}),
    ...(b.failedReason ? { failedReason: b.failedReason } : {}),
  };
}
