import { streamIds, type CommandReply } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { handleCommand } from '@pgfleet/kit';
import { decideBackups, evolveBackups, initialBackupsState, type BackupsState, type RecordCommand } from '../domain/backups.js';

const WORKER = { kind: 'service', id: 'backup' } as const;

/**
 * Record a worker's outcome in `backups-{clusterId}`: decided against the current stream and
 * appended with its version as expected version (re-decided on a conflict), so two workers
 * can never both start, finish or delete the same backup.
 */
export function recordOutcome(store: EventStore, clusterId: string, command: RecordCommand, correlationId?: string): Promise<CommandReply> {
  return handleCommand({
    store, streamId: streamIds.backups(clusterId), initialState: initialBackupsState(), evolve: evolveBackups, decide: decideBackups,
    command, meta: { actor: WORKER, ...(correlationId ? { correlationId } : {}) },
  });
}

export async function loadBackups(store: EventStore, clusterId: string): Promise<BackupsState> {
  const { events } = await store.readStream(streamIds.backups(clusterId));
  return events.reduce((s, e) => evolveBackups(s, e as Parameters<typeof evolveBackups>[1]), initialBackupsState());
}
