import { BACKWARDS, END, StreamNotFoundError, jsonEvent, type EventStoreDBClient } from '@eventstore/db-client';
import type { Checkpoint } from '../port.js';

export const CHECKPOINT_STREAM_PREFIX = 'pgfleet_checkpoint-';

/** Checkpoints live in one stream per subscriber, trimmed to its last event. */
function checkpointStream(subscriberId: string): string {
  return `${CHECKPOINT_STREAM_PREFIX}${subscriberId}`;
}

export async function loadCheckpoint(client: EventStoreDBClient, subscriberId: string): Promise<Checkpoint> {
  try {
    for await (const resolved of client.readStream(checkpointStream(subscriberId), {
      fromRevision: END,
      direction: BACKWARDS,
      maxCount: 1,
    })) {
      const data = resolved.event?.data as { checkpoint?: Checkpoint } | undefined;
      return data?.checkpoint ?? null;
    }
  } catch (error) {
    if (error instanceof StreamNotFoundError) return null;
    throw error;
  }
  return null;
}

export async function storeCheckpoint(
  client: EventStoreDBClient,
  subscriberId: string,
  checkpoint: Checkpoint,
): Promise<void> {
  const stream = checkpointStream(subscriberId);
  const result = await client.appendToStream(stream, jsonEvent({ type: 'PgfleetCheckpoint', data: { checkpoint } }));
  if (result.nextExpectedRevision === 0n) await client.setStreamMetadata(stream, { maxCount: 1 });
}
