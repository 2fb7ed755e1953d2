import { streamIds, type CommandReply } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { handleCommand } from '@pgfleet/kit';
import { backupsDecider, foldBackups, type BackupsState, type RecordCommand } from '../domain/backups.js';

const WORKER = { kind: 'service', id: 'backup' } as const;

/**
 * Record a worker's outcome in `backups-{clusterId}`: decided against the current stream and
 * appended with its version as expected version (re-decided on a conflict), so two workers
 * can never both start, finish or delete the same backup.
 */
export function recordOutcome(
  store: EventStore,
  clusterId: string,
  command: RecordCommand,
  correlationId?: string,
): Promise<CommandReply> {
  return handleCommand({
    store,
    streamId: streamIds.backups(clusterId),
    ...backupsDecider,
    command,
    meta: { actor: WORKER, ...(correlationId ? { correlationId } : {}) },
  });
}

export async function loadBackups(store: EventStore, clusterId: string): Promise<BackupsState> {
  return foldBackups((await store.readStream(streamIds.backups(clusterId))).events);
}
