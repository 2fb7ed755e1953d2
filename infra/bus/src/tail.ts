import { DeliverPolicy, type JetStreamClient } from '@nats-io/jetstream';
import { EVENTS_STREAM, EVENTS_SUBJECT_ROOT, type EventEnvelope, type Rejection } from '@pgfleet/contracts';
import { decodeEvent } from './decodeEvent.js';

export interface TailEventsOptions {
  js: JetStreamClient;
  /** A subject filter (see `eventFilter` in contracts); default every event. */
  filter?: string;
  /** Start from events stored at or after this instant; default: only new events. */
  since?: Date;
  /** Start from the first stored event (ignored when `since` is given). */
  fromStart?: boolean;
  onEvent: (event: EventEnvelope) => Promise<void> | void;
  /** A message that is not a valid envelope (skipped). */
  onInvalid?: (rejection: Rejection, subject: string) => void;
}

/**
 * Follow the events stream with an ephemeral ordered consumer (`pgfleet events tail`): nothing
 * is acknowledged or stored; the client recreates the consumer after a gap or a server restart.
 */
export async function tailEvents(opts: TailEventsOptions): Promise<{ stop(): Promise<void> }> {
  const consumer = await opts.js.consumers.get(EVENTS_STREAM, {
    filter_subjects: opts.filter ?? `${EVENTS_SUBJECT_ROOT}.>`,
    ...(opts.since
      ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: opts.since.toISOString() }
      : { deliver_policy: opts.fromStart ? DeliverPolicy.All : DeliverPolicy.New }),
  });
  const messages = await consumer.consume();
  const running = (async () => {
    for await (const m of messages) {
      const decoded = decodeEvent(m.data);
      if (decoded.ok) await opts.onEvent(decoded.value);
      else opts.onInvalid?.(decoded.rejection, m.subject);
    }
  })();
  return {
    async stop() {
      await messages.close();
      await running;
    },
  };
}
