import { uuidv7, type CommandData, type CommandMeta, type CommandReply, type PitrBackupKind } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { pitrBackupIdFor } from './domain/backupId.js';
import { loadCluster, pitrFacts } from './workers/cluster.js';
import { recordPitr } from './workers/record.js';

export interface RequestOptions {
  now?: Date;
  kind?: Extract<PitrBackupKind, 'weekly' | 'manual'>;
}

/**
 * RequestPitrBackup (`pgfleet pitr backup NAME`): a full backup now, decided against the plan
 * (Sandbox: PITR_NOT_IN_PLAN), the archive (PITR_NOT_READY before archiving began) and the backup
 * in progress (PITR_BACKUP_IN_PROGRESS). The reply carries `result.backupId`; the same
 * `meta.commandId` asks for the same backup.
 */
export async function requestPitrBackup(
  deps: { store: EventStore },
  cmd: CommandData<'pitr', 'RequestPitrBackup'>,
  meta: CommandMeta,
  options: RequestOptions = {},
): Promise<CommandReply> {
  const facts = pitrFacts(cmd.clusterId, await loadCluster(deps.store, cmd.clusterId));
  if (!facts) {
    return {
      ok: false,
      code: 'CLUSTER_NOT_FOUND',
      message: `no cluster ${cmd.clusterId}`,
      details: { field: 'clusterId' },
    };
  }
  const backupId = meta.commandId ? pitrBackupIdFor(cmd.clusterId, meta.commandId) : uuidv7();
  const now = (options.now ?? new Date()).toISOString();
  const command = { type: 'RequestPitrBackup', cluster: facts, backupId, kind: options.kind ?? 'manual', now } as const;
  const reply = await recordPitr(deps.store, cmd.clusterId, command, meta);
  return reply.ok ? { ...reply, result: { backupId } } : reply;
}
