import { foldPitr, streamIds, type CommandMeta, type CommandReply, type PitrState } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { handleCommand } from '@pgfleet/kit';
import { pitrDecider, type PitrCommand } from '../domain/pitr.js';

const WORKER = { kind: 'service', id: 'pitr' } as const;

/**
 * Decide a command on `pitr-{clusterId}` and append its events with the stream's version as
 * expected version (re-decided on a conflict): two workers never both start or finish one backup.
 */
export function recordPitr(
  store: EventStore,
  clusterId: string,
  command: PitrCommand,
  meta: CommandMeta = { actor: WORKER },
): Promise<CommandReply> {
  return handleCommand({ store, streamId: streamIds.pitr(clusterId), ...pitrDecider, command, meta });
}

export async function loadPitr(store: EventStore, clusterId: string): Promise<PitrState> {
  return foldPitr((await store.readStream(streamIds.pitr(clusterId))).events);
}
