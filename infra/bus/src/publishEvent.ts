import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import { eventSubject, type EventEnvelope } from '@pgfleet/contracts';

const encoder = new TextEncoder();

export interface PublishEventOptions {
  /** How long to wait for the stream's acknowledgement (default 5000 ms). */
  timeoutMs?: number;
}

/**
 * Publish one stored event on `pgfleet.events.{category}.{streamId}.{Type}` with
 * `Nats-Msg-Id` = its id, so that publishing it again within the stream's duplicate window
 * stores nothing (the ack then says `duplicate: true`). Resolves with the stream's ack.
 */
export function publishEvent(
  js: JetStreamClient,
  event: EventEnvelope,
  opts: PublishEventOptions = {},
): Promise<PubAck> {
  return js.publish(eventSubject(event.streamId, event.type), encodeEvent(event), {
    msgID: event.id,
    timeout: opts.timeoutMs ?? 5000,
  });
}

/** The wire body of an event message: the envelope as JSON. */
export function encodeEvent(event: EventEnvelope): Uint8Array {
  return encoder.encode(JSON.stringify(event));
}
