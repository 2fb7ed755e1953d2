import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamClient,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos, RequestError, TimeoutError } from '@nats-io/transport-node';
import { EVENTS_STREAM, EVENTS_SUBJECT_ROOT, type EventEnvelope } from '@pgfleet/contracts';
import { decodeEvent } from './decodeEvent.js';
import { errorFields, silentLogger, type BusLogger } from './logger.js';

export interface DeliveryMeta {
  /** 1 on the first delivery, 2 on the first redelivery, ... */
  deliveryCount: number;
  streamSequence: number;
  subject: string;
}

export type EventHandler = (event: EventEnvelope, delivery: DeliveryMeta) => Promise<void> | void;

export interface ConsumeEventsOptions {
  js: JetStreamClient;
  /** Durable consumer name: every replica passing the same name shares one consumer. */
  durable: string;
  /** Subjects to receive (default every event: `pgfleet.events.>`); several need nats-server 2.10. */
  filterSubjects?: string[];
  /** Handle one event; resolve to ack, throw to have it redelivered later. Must be idempotent by event id. */
  handler: EventHandler;
  /** Where a new durable starts (default 'all'); ignored once it exists. */
  deliverPolicy?: 'all' | 'new' | 'by_start_time';
  optStartTime?: Date;
  /** Deliveries of one message before it is given up (terminated and logged). Default 10. */
  maxDeliver?: number;
  /** Delay before redelivering after the n-th failed delivery (last value repeats). */
  retryDelaysMs?: number[];
  /**
   * Ack wait after the n-th delivery when a replica goes silent (crashed), as the consumer's
   * server-side backoff. While a handler runs, the consumer reports progress, so long handlers
   * are not redelivered. Default 5 s, 15 s, 30 s, 60 s.
   */
  ackWaitsMs?: number[];
  /** Unacknowledged messages in flight across replicas (default 1000). */
  maxAckPending?: number;
  /** Messages per pull (default 100). */
  batch?: number;
  /**
   * Events handled at once (default 1: one after another, in stream order). More suits handlers
   * that are independent of each other's order (e.g. one long operation per cluster).
   */
  concurrency?: number;
  /**
   * Called once an event is given up after its last delivery, before it is terminated: park it
   * (e.g. record HandlingFailed). If this throws, the event is redelivered later instead.
   */
  onGiveUp?: (event: EventEnvelope, error: unknown) => Promise<void> | void;
  /** Keep retrying the consumer's creation this long while JetStream is unreachable (default 60 s). */
  setupTimeoutMs?: number;
  logger?: BusLogger;
}

export interface EventConsumer {
  /** Stop pulling; resolves after the event in hand is handled. */
  stop(): Promise<void>;
}

const DEFAULT_RETRY_DELAYS_MS = [250, 1000, 5000, 15_000, 60_000];
const DEFAULT_ACK_WAITS_MS = [5000, 15_000, 30_000, 60_000];

/** The configuration of a pgfleet durable pull consumer on `PGFLEET_EVENTS`. */
export function durableConsumerConfig(
  opts: Omit<ConsumeEventsOptions, 'js' | 'handler' | 'logger' | 'batch'>,
): Partial<ConsumerConfig> {
  const filters =
    opts.filterSubjects && opts.filterSubjects.length > 0 ? opts.filterSubjects : [`${EVENTS_SUBJECT_ROOT}.>`];
  const ackWaits = opts.ackWaitsMs ?? DEFAULT_ACK_WAITS_MS;
  const maxDeliver = Math.max(opts.maxDeliver ?? 10, ackWaits.length + 1);
  const deliverPolicy = opts.deliverPolicy ?? (opts.optStartTime ? 'by_start_time' : 'all');
  return {
    durable_name: opts.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy:
      deliverPolicy === 'all'
        ? DeliverPolicy.All
        : deliverPolicy === 'new'
          ? DeliverPolicy.New
          : DeliverPolicy.StartTime,
    ...(deliverPolicy === 'by_start_time' ? { opt_start_time: (opts.optStartTime ?? new Date()).toISOString() } : {}),
    ...(filters.length === 1 ? { filter_subject: filters[0] } : { filter_subjects: filters }),
    max_deliver: maxDeliver,
    ack_wait: nanos(ackWaits[0]!),
    backoff: ackWaits.map((ms) => nanos(ms)),
    max_ack_pending: opts.maxAckPending ?? 1000,
  };
}

/** Create the durable consumer, or update the settings that may change (idempotent, replica-safe). */
export async function ensureDurableConsumer(
  js: JetStreamClient,
  config: Partial<ConsumerConfig>,
): Promise<ConsumerInfo> {
  const jsm = await js.jetstreamManager();
  try {
    return await jsm.consumers.add(EVENTS_STREAM, config);
  } catch (error) {
    if (!(error instanceof JetStreamApiError)) throw error;
    const { max_deliver, ack_wait, backoff, max_ack_pending } = config;
    return jsm.consumers.update(EVENTS_STREAM, config.durable_name!, {
      max_deliver,
      ack_wait,
      backoff,
      max_ack_pending,
    });
  }
}

/** Retry `step` while JetStream is unreachable (timeouts, no responders, JetStream recovering). */
async function retryUnavailable<T>(
  timeoutMs: number,
  logger: BusLogger,
  log: Record<string, unknown>,
  step: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      const transient =
        error instanceof TimeoutError ||
        error instanceof RequestError ||
        (error instanceof JetStreamApiError && error.status === 503);
      if (!transient || Date.now() > deadline) throw error;
      if (attempt === 1)
        logger.warn({ ...log, ...errorFields(error) }, 'JetStream unavailable; retrying consumer setup');
      await new Promise((r) => setTimeout(r, Math.min(1000, 100 * attempt)));
    }
  }
}

/**
 * Consume events with a durable pull consumer: explicit ack after the handler succeeds, a
 * delayed redelivery when it throws, and after `maxDeliver` deliveries the message is
 * terminated and logged. A message that is not a valid envelope is terminated at once.
 */
export async function consumeEvents(opts: ConsumeEventsOptions): Promise<EventConsumer> {
  const logger = opts.logger ?? silentLogger;
  const config = durableConsumerConfig(opts);
  const maxDeliver = config.max_deliver!;
  const retryDelays = opts.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const progressEveryMs = Math.max(100, Math.floor((opts.ackWaitsMs ?? DEFAULT_ACK_WAITS_MS)[0]! / 3));
  const log = { durable: opts.durable };
  const consumer = await retryUnavailable(opts.setupTimeoutMs ?? 60_000, logger, log, async () => {
    await ensureDurableConsumer(opts.js, config);
    return opts.js.consumers.get(EVENTS_STREAM, opts.durable);
  });
  const messages = await consumer.consume({ max_messages: opts.batch ?? 100 });

  void (async () => {
    for await (const s of messages.status()) {
      if (
        s.type === 'heartbeats_missed' ||
        s.type === 'consumer_not_found' ||
        s.type === 'stream_not_found' ||
        s.type === 'consumer_deleted'
      ) {
        logger.warn({ ...log, status: s.type }, 'event consumer is waiting for JetStream');
      }
    }
  })().catch(() => undefined);

  const handle = async (m: JsMsg) => {
    const decoded = decodeEvent(m.data);
    if (!decoded.ok) {
      m.term();
      logger.error(
        { ...log, subject: m.subject, seq: m.seq, code: decoded.rejection.code, reason: decoded.rejection.message },
        'malformed event message terminated',
      );
      return;
    }
    const event = decoded.value;
    const deliveryCount = m.info.deliveryCount;
    const progress = setInterval(() => m.working(), progressEveryMs);
    try {
      await opts.handler(event, { deliveryCount, streamSequence: m.info.streamSequence, subject: m.subject });
      m.ack();
    } catch (error) {
      const fields = {
        ...log,
        eventId: event.id,
        type: event.type,
        correlationId: event.correlationId,
        deliveryCount,
        ...errorFields(error),
      };
      if (deliveryCount >= maxDeliver) {
        try {
          await opts.onGiveUp?.(event, error);
        } catch (parkError) {
          m.nak(retryDelays.at(-1) ?? 1000);
          logger.error({ ...fields, parkError: errorFields(parkError) }, 'event could not be parked; will retry');
          return;
        }
        m.term();
        logger.error(fields, `event handler failed ${deliveryCount} times; event given up`);
      } else {
        const delay = retryDelays[Math.min(deliveryCount - 1, retryDelays.length - 1)] ?? 1000;
        m.nak(delay);
        logger.warn({ ...fields, retryInMs: delay }, 'event handler failed; will retry');
      }
    } finally {
      clearInterval(progress);
    }
  };

  const concurrency = Math.max(1, opts.concurrency ?? 1);
  const inFlight = new Set<Promise<void>>();
  const running = (async () => {
    for await (const m of messages) {
      if (concurrency === 1) {
        await handle(m);
        continue;
      }
      const p: Promise<void> = handle(m).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  })();

  return {
    async stop() {
      await messages.close();
      await running;
    },
  };
}
