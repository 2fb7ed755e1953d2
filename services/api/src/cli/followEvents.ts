import type { NatsConnection } from '@nats-io/transport-node';
import type { EventEnvelope } from '@pgfleet/contracts';
import { type ApiClient, CliError } from './client.js';

export interface FollowOptions {
  /** Event subjects (`pgfleet.events.cluster.cluster-{id}.*`...): one ordered consumer each. */
  subjects: string[];
  /** Deliver the events stored from this instant on (taken just before the request). */
  since: Date;
  /**
   * Each event, with its sequence in the events stream (the global order the relay published in):
   * in that order for one subject, interleaved across subjects. Resolve true when the wait is over.
   */
  onEvent(event: EventEnvelope, seq: number): boolean | Promise<boolean>;
  /**
   * One sentence saying that the work goes on and how to follow it: printed on Ctrl-C (the CLI
   * then exits; the work is not cancelled) and in the error when NATS cannot be reached.
   */
  goesOn: string;
  /** Stop following early (e.g. a bounded wait for the gateways after a switchover). */
  signal?: AbortSignal;
  /** A connection opened ahead by `connectForEvents` (else one is opened now); closed at the end. */
  connection?: Promise<NatsConnection>;
}

/**
 * Load the NATS client and connect, the way `followEvents` does, ahead of a request whose events
 * will be followed: the connection is ready by the time the request is answered. Hand it to
 * `followEvents` (`connection`), which reports its failure and closes it.
 */
export function connectForEvents(api: ApiClient): Promise<NatsConnection> {
  const connecting = (async () => {
    const servers = api.natsUrl();
    const [{ connectBus }] = await Promise.all([import('@pgfleet/bus'), import('@nats-io/jetstream')]);
    return connectBus({ servers, name: 'pgfleet-cli', waitOnFirstConnect: false, ...(await api.natsAuth()) });
  })();
  connecting.catch(() => undefined); // reported by followEvents
  return connecting;
}

/** Close a connection opened ahead for nothing (the request was refused, or there is nothing to follow). */
export function closeUnused(connection: Promise<NatsConnection> | undefined): Promise<void> {
  return (connection ?? Promise.resolve(undefined)).then((nc) => nc?.close()).catch(() => undefined);
}

/**
 * Follow events as they are published (JetStream ordered consumers from `since`: nothing is
 * acknowledged or stored, the client recreates one after a gap), until `onEvent` says done or
 * `signal` aborts; the CLI reaches NATS like `events tail` (TLS and the `cli` user when secured).
 * One consumer per subject: a consumer with several filters needs NATS 2.10.
 */
export async function followEvents(api: ApiClient, opts: FollowOptions): Promise<'done' | 'aborted'> {
  const { decodeEvent } = await import('@pgfleet/bus');
  const { DeliverPolicy, jetstream } = await import('@nats-io/jetstream');
  const { EVENTS_STREAM } = await import('@pgfleet/contracts');
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`${signal === 'SIGINT' ? 'interrupted' : signal}: ${opts.goesOn}\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let nc: NatsConnection | undefined;
  const feeds: { close(): Promise<unknown> }[] = [];
  try {
    const servers = api.natsUrl();
    try {
      nc = await (opts.connection ?? connectForEvents(api));
    } catch (error) {
      if (error instanceof CliError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new CliError(`cannot follow the events on NATS at ${servers} (${reason}); ${opts.goesOn}`, 'UNAVAILABLE');
    }
    const js = jetstream(nc);
    let finish: (outcome: 'done' | 'aborted') => void = () => undefined;
    let fail: (error: unknown) => void = () => undefined;
    const finished = new Promise<'done' | 'aborted'>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    // One event at a time, across every feed, so `onEvent` never runs twice at once.
    let queue = Promise.resolve();
    for (const subject of opts.subjects) {
      const consumer = await js.consumers.get(EVENTS_STREAM, {
        filter_subjects: subject,
        deliver_policy: DeliverPolicy.StartTime,
        opt_start_time: opts.since.toISOString(),
      });
      const messages = await consumer.consume();
      feeds.push(messages);
      void (async () => {
        for await (const m of messages) {
          const decoded = decodeEvent(m.data);
          if (!decoded.ok) continue;
          queue = queue.then(async () => {
            if (await opts.onEvent(decoded.value, m.seq)) finish('done');
          });
          await queue.catch(fail);
        }
      })().catch(fail);
    }
    if (opts.signal?.aborted) return 'aborted';
    const abort = () => finish('aborted');
    opts.signal?.addEventListener('abort', abort, { once: true });
    try {
      return await finished;
    } finally {
      opts.signal?.removeEventListener('abort', abort);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.allSettled(feeds.map((f) => f.close()));
    await nc?.close();
  }
}

/** The subject filter of one stream's events: `pgfleet.events.{category}.{streamId}.*`. */
export const streamSubject = (streamId: string): string =>
  `pgfleet.events.${streamId.slice(0, streamId.indexOf('-'))}.${streamId}.*`;

/** A margin for the clock of a NATS server on another host: events from before are filtered by id. */
export const requestTime = (): Date => new Date(Date.now() - 2000);

/** One progress line per event (stderr), as `cluster create` always printed them. */
export function eventLine(e: EventEnvelope): string {
  const d = e.data as Record<string, unknown>;
  switch (e.type) {
    case 'OperationRequested':
      return `  ${e.occurredAt}  operation ${String(d.operationId)} (${String(d.kind)}) started`;
    case 'OperationStepCompleted':
      return `  ${e.occurredAt}  step ${String(d.step)} done`;
    case 'OperationSucceeded':
      return `  ${e.occurredAt}  operation ${String(d.operationId)} succeeded`;
    case 'OperationFailed': {
      const where = `failed at step ${String(d.step)}: ${String(d.reason)}`;
      return `  ${e.occurredAt}  operation ${String(d.operationId)} ${where}`;
    }
    case 'FailoverStarted':
      return `  ${e.occurredAt}  FailoverStarted term ${e.data.term}, ${e.data.from} fenced: ${e.data.reason}`;
    case 'LeaderChanged': {
      const { from, to, reason, term } = e.data;
      return `  ${e.occurredAt}  LeaderChanged ${from ?? '?'} → ${to} (${reason}${term ? `, term ${term}` : ''})`;
    }
    case 'NodeHealthChanged': {
      const why = e.data.reason ? `: ${e.data.reason}` : '';
      return `  ${e.occurredAt}  NodeHealthChanged ${e.data.nodeId} ${e.data.health}${why}`;
    }
    default: {
      const node = d.nodeId ? ` ${String(d.nodeId)}` : '';
      const reason = d.reason ? `: ${String(d.reason)}` : '';
      return `  ${e.occurredAt}  ${e.type}${node}${reason}`;
    }
  }
}
