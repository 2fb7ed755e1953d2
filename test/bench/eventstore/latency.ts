import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
} from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  connectBus,
  consumeEvents,
  EVENTS_DUPLICATE_WINDOW_MS,
  encodeEvent,
  ensureEventsStream,
  startRelay,
} from '@pgfleet/bus';
import { createPostgresEventStore } from '@pgfleet/eventstore';
import { newStreamId, sampleEnvelope, sampleEvents } from './events.js';
import { log, percentile, type Figure } from './report.js';

const STREAMS = 100;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Receive times of the events fired in the measured phase, by id. */
class Latencies {
  private readonly started = new Map<string, number>();
  readonly samples: number[] = [];
  duplicates = 0;
  /** Durations of the append (or publish) calls themselves. */
  readonly calls: number[] = [];
  private readonly seen = new Set<string>();
  start(id: string): void {
    this.started.set(id, performance.now());
  }
  received(id: string): void {
    const at = performance.now();
    if (this.seen.has(id)) {
      this.duplicates++;
      return;
    }
    this.seen.add(id);
    const t0 = this.started.get(id);
    if (t0 !== undefined) this.samples.push(at - t0);
  }
  get expected(): number {
    return this.started.size;
  }
}

/** Fire `rate` events per second for `seconds`, on schedule (not waiting for earlier ones). */
async function paced(rate: number, seconds: number, fire: (i: number) => void): Promise<void> {
  const total = Math.round(rate * seconds);
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
    while (sent < due) fire(sent++);
    await sleep(1);
  }
}

async function drained(l: Latencies, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (l.samples.length < l.expected) {
    if (Date.now() > deadline)
      throw new Error(`${what}: received ${l.samples.length} of ${l.expected} events after 60 s`);
    await sleep(20);
  }
}

/**
 * Append -> relay -> JetStream -> durable consumer, one event per append, STREAMS streams. Each
 * run has its own store schema, relay and durable consumer (the events stream is shared).
 */
async function measurePgfleet(
  connectionString: string,
  conns: NatsConnection[],
  rate: number,
  seconds: number,
  run: number,
): Promise<Latencies> {
  const store = createPostgresEventStore({ connectionString, schema: `bench_latency_${run}`, poolSize: 10 });
  const [relayNc, consumerNc] = conns as [NatsConnection, NatsConnection];
  await store.migrate();
  const relay = startRelay({ store, js: jetstream(relayNc), relayId: `bench-relay-${run}` });
  let current = new Latencies();
  // A durable of this run, from now on: it receives this run's events only.
  const consumer = await consumeEvents({
    js: jetstream(consumerNc),
    durable: `bench-latency-${run}`,
    deliverPolicy: 'new',
    handler: (e) => current.received(e.id),
  });
  const streams = Array.from({ length: STREAMS }, () => ({ id: newStreamId(), version: 0, chain: Promise.resolve() }));
  let failures = 0;
  const fire = (i: number) => {
    const s = streams[i % STREAMS]!;
    const l = current;
    s.chain = s.chain
      .then(async () => {
        const events = sampleEvents(1, s.version + 1);
        const t0 = performance.now();
        l.start(events[0]!.id!);
        s.version = (await store.appendToStream(s.id, events, { expectedVersion: s.version })).nextExpectedVersion;
        l.calls.push(performance.now() - t0);
      })
      .catch(() => {
        failures++;
      });
  };
  try {
    await paced(rate, 1, fire);
    await drained(current, 'pgfleet warm-up');
    current = new Latencies();
    await paced(rate, seconds, fire);
    await Promise.all(streams.map((s) => s.chain));
    if (failures > 0) throw new Error(`${failures} appends failed during the latency run`);
    await drained(current, 'pgfleet latency');
    return current;
  } finally {
    await consumer.stop();
    await relay.stop();
    await store.close();
  }
}

/** Raw JetStream: publish the same envelope JSON into a stream configured alike, pull-consume it. */
async function measureRaw(conns: NatsConnection[], rate: number, seconds: number, run: number): Promise<Latencies> {
  const [pubNc, subNc] = conns as [NatsConnection, NatsConnection];
  const jsm = await jetstreamManager(pubNc);
  const RAW_STREAM = `BENCH_RAW_${run}`;
  const subjectRoot = `bench.raw${run}`;
  await jsm.streams.add({
    name: RAW_STREAM,
    subjects: [`${subjectRoot}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(EVENTS_DUPLICATE_WINDOW_MS),
    num_replicas: 1,
  });
  await jsm.consumers.add(RAW_STREAM, {
    durable_name: 'bench-raw',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: 1000,
  });
  const js: JetStreamClient = jetstream(pubNc);
  let current = new Latencies();
  const messages = await (await jetstream(subNc).consumers.get(RAW_STREAM, 'bench-raw')).consume({ max_messages: 100 });
  const consuming = (async () => {
    for await (const m of messages) {
      current.received((m.json() as { id: string }).id);
      m.ack();
    }
  })();
  const streams = Array.from({ length: STREAMS }, () => ({ id: newStreamId(), version: 0 }));
  let failures = 0;
  const fire = (i: number) => {
    const s = streams[i % STREAMS]!;
    const event = sampleEnvelope(s.id, ++s.version, i + 1);
    const l = current;
    const t0 = performance.now();
    l.start(event.id);
    js.publish(`${subjectRoot}.${s.id}.${event.type}`, encodeEvent(event), { msgID: event.id }).then(
      () => {
        l.calls.push(performance.now() - t0);
      },
      () => {
        failures++;
      },
    );
  };
  try {
    await paced(rate, 1, fire);
    await drained(current, 'raw warm-up');
    current = new Latencies();
    await paced(rate, seconds, fire);
    if (failures > 0) throw new Error(`${failures} raw publishes failed`);
    await drained(current, 'raw latency');
    return current;
  } finally {
    await messages.close();
    await consuming;
    await jsm.streams.delete(RAW_STREAM).catch(() => false);
  }
}

export interface LatencyBenchOptions {
  connectionString: string;
  natsUrl: string;
  rate: number;
  seconds: number;
  /** Measurements of each side (raw, then pgfleet, run after run). */
  runs: number;
}

/** p50 and p99 of append-call start -> consumer receive, beside raw publish -> receive at the same rate. */
export async function benchLatency(opts: LatencyBenchOptions): Promise<{ figures: Figure[]; notes: string[] }> {
  const conns = await Promise.all(
    ['bench-relay', 'bench-consumer'].map((name) => connectBus({ servers: opts.natsUrl, name })),
  );
  try {
    await ensureEventsStream(await jetstreamManager(conns[0]!));
    const label = `append -> consumer latency at ${opts.rate} ev/s for ${opts.seconds} s`;
    const p50: Figure = { metric: `${label}, p50`, unit: 'ms', pgfleet: [], raw: [] };
    const p99: Figure = { metric: `${label}, p99`, unit: 'ms', pgfleet: [], raw: [], target: { max: 20 } };
    const p = (l: Latencies, q: number, of: number[] = l.samples) =>
      percentile(
        [...of].sort((a, b) => a - b),
        q,
      );
    const calls = (l: Latencies) => `p50 ${p(l, 50, l.calls).toFixed(2)} / p99 ${p(l, 99, l.calls).toFixed(2)} ms`;
    const notes: string[] = [];
    for (let run = 1; run <= opts.runs; run++) {
      const raw = await measureRaw(conns, opts.rate, opts.seconds, run);
      const pgfleet = await measurePgfleet(opts.connectionString, conns, opts.rate, opts.seconds, run);
      log(
        `${label} (run ${run}/${opts.runs}): ` +
          `pgfleet p50 ${p(pgfleet, 50).toFixed(2)} p99 ${p(pgfleet, 99).toFixed(2)} ms; ` +
          `raw p50 ${p(raw, 50).toFixed(2)} p99 ${p(raw, 99).toFixed(2)} ms`,
      );
      p50.pgfleet.push(p(pgfleet, 50));
      p50.raw.push(p(raw, 50));
      p99.pgfleet.push(p(pgfleet, 99));
      p99.raw.push(p(raw, 99));
      notes.push(
        `latency run ${run}: pgfleet ${pgfleet.samples.length.toLocaleString('en-US')} events received exactly once ` +
          `(${pgfleet.duplicates} duplicates), max ${p(pgfleet, 100).toFixed(2)} ms; ` +
          `raw ${raw.samples.length.toLocaleString('en-US')} (${raw.duplicates} duplicates), ` +
          `max ${p(raw, 100).toFixed(2)} ms; ` +
          `the calls alone: appendToStream (1 event) ${calls(pgfleet)}, ` +
          `raw JetStream publish until acked ${calls(raw)}`,
      );
    }
    return { figures: [p50, p99], notes };
  } finally {
    await Promise.allSettled(conns.map((c) => c.close()));
  }
}
