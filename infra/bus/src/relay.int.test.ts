import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS_STREAM, eventFilter } from '@pgfleet/contracts';
import { createPostgresEventStore, type EventStore, type NewEvent } from '@pgfleet/eventstore';
import { freePort, ownedTempDir, startLocalServer, type LocalServer } from '@pgfleet/postgres';
import { consumeEvents, type EventConsumer } from './consumer.js';
import type { BusLogger } from './logger.js';
import { startRelay, type Relay } from './relay.js';
import { sleep, startNatsHarness, waitFor, type NatsHarness } from './testing/harness.js';

const TOTAL = 10_000;
const STREAMS = 20;
const PER_APPEND = 25;

let pgServer: LocalServer;
let pgDir: string;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  pgDir = await ownedTempDir('pgfleet-bus-relay-');
  pgServer = await startLocalServer({
    dataDir: join(pgDir, 'data'),
    port: await freePort(),
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
  });
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await pgServer?.stop('immediate');
  if (pgDir) await rm(pgDir, { recursive: true, force: true });
});

let tags = 0;
async function fixture() {
  const tag = `r${Date.now().toString(36)}${++tags}`;
  const nats = await startNatsHarness();
  cleanups.push(() => nats.close());
  const store = createPostgresEventStore({ connectionString: pgServer.url(), schema: `es_${tag}` });
  await store.migrate();
  cleanups.push(() => store.close());
  return { tag, nats, store };
}

/** Append TOTAL events over STREAMS streams, PER_APPEND per append, round robin; resolves when done. */
async function appendAll(store: EventStore, tag: string): Promise<void> {
  for (let round = 0; round * STREAMS * PER_APPEND < TOTAL; round++) {
    await Promise.all(
      Array.from({ length: STREAMS }, (_, s) => {
        const events = Array.from(
          { length: PER_APPEND },
          (_, i) => ({ type: 'NodeStopped', data: { nodeId: `n${round}_${i}` } }) as NewEvent,
        );
        return store.appendToStream(`cluster-${tag}_${s}`, events, { expectedVersion: round * PER_APPEND });
      }),
    );
  }
}

/** A durable consumer that records every delivery to its handler. */
async function collect(nats: NatsHarness, durable: string) {
  const deliveries: string[] = [];
  const consumer: EventConsumer = await consumeEvents({
    js: nats.js,
    durable,
    filterSubjects: [eventFilter({ category: 'cluster' })],
    batch: 500,
    handler: (e) => void deliveries.push(e.id),
  });
  cleanups.push(() => consumer.stop());
  return { deliveries, consumer };
}

async function expectExactlyOnce(nats: NatsHarness, deliveries: string[], durable: string) {
  await waitFor(() => deliveries.length >= TOTAL, `${TOTAL} deliveries`);
  await waitFor(
    async () => (await nats.jsm.consumers.info(EVENTS_STREAM, durable)).num_ack_pending === 0,
    'every delivery acked',
  );
  const info = await nats.jsm.consumers.info(EVENTS_STREAM, durable);
  expect(info.num_pending).toBe(0);
  expect(info.num_redelivered).toBe(0);
  expect(new Set(deliveries).size).toBe(TOTAL);
  expect(deliveries).toHaveLength(TOTAL);
  expect((await nats.jsm.streams.info(EVENTS_STREAM)).state.messages).toBe(TOTAL);
}

function recordingLogger() {
  const lines: { msg: string; obj: Record<string, unknown> }[] = [];
  const at = (obj: Record<string, unknown>, msg: string) => void lines.push({ msg, obj });
  const logger: BusLogger = { info: at, warn: at, error: at };
  return { lines, logger };
}

describe('relay', () => {
  it('publishes every event exactly once when the NATS server is killed -9 mid-publish and restarted', async () => {
    const { tag, nats, store } = await fixture();
    const relayNc = await nats.connect('relay');
    const { lines, logger } = recordingLogger();
    const relay: Relay = startRelay({
      store,
      js: jetstream(relayNc),
      relayId: `relay-${tag}`,
      batchSize: 500,
      publishTimeoutMs: 1000,
      retryDelayMs: 100,
      logger,
    });
    cleanups.push(() => relay.stop());
    // A consumer live through the crash: acks in flight may be lost with the server, so it may
    // see an event twice (handlers are idempotent by id), but it must not miss one.
    const live = await collect(nats, `live-${tag}`);
    const appending = appendAll(store, tag);

    const streamCount = async () => (await nats.jsm.streams.info(EVENTS_STREAM)).state.messages;
    let atKill = 0;
    await waitFor(async () => {
      atKill = await streamCount();
      return atKill >= 2000;
    }, 'the relay to publish 2000 events');
    await nats.server.kill9();
    const relayed = await store.loadCheckpoint(`relay-${tag}`);
    await sleep(500);
    await nats.server.restart();
    const durable = `audit-${tag}`;
    const { deliveries } = await collect(nats, durable);

    await appending;
    await relay.caughtUp();
    await expectExactlyOnce(nats, deliveries, durable);
    expect(relayed).not.toBeNull();
    expect(atKill).toBeLessThan(TOTAL);
    expect(lines.some((l) => /relay publish failed; retrying/.test(l.msg))).toBe(true);
    await waitFor(() => new Set(live.deliveries).size === TOTAL, 'the live consumer to see every event');
  });

  it(
    'publishes every event exactly once when the relay process dies after publishing, ' +
      'before its checkpoint, and is restarted',
    async () => {
      const { tag, nats, store } = await fixture();
      const relayId = `relay-${tag}`;
      await appendAll(store, tag);
      const durable = `audit-${tag}`;
      const { deliveries } = await collect(nats, durable);

      // 1st relay process: SIGKILLs itself after publishing its 3rd batch, before checkpointing it.
      const first = relayProcess(nats.server.url, tag, relayId, { CRASH_AT_CHECKPOINT: '3' });
      expect(await first.exited).toBe('SIGKILL');
      expect(first.logs().some((l) => l.msg === 'crashing before checkpoint')).toBe(true);
      const atFirstCrash = (await nats.jsm.streams.info(EVENTS_STREAM)).state.messages;
      expect(atFirstCrash).toBe(1500);
      expect(await store.loadCheckpoint(relayId)).not.toBeNull();

      // 2nd relay process: republishes the un-checkpointed batch (JetStream drops the copies), then is killed -9
      // mid-run.
      const second = relayProcess(nats.server.url, tag, relayId, {});
      await waitFor(
        async () => (await nats.jsm.streams.info(EVENTS_STREAM)).state.messages >= 4000,
        'the second relay to get going',
      );
      second.child.kill('SIGKILL');
      expect(await second.exited).toBe('SIGKILL');
      const republished = second.logs().find((l) => l.msg === 'relay republished events JetStream already had');
      expect(republished?.duplicates).toBe(500);

      // 3rd relay, in process, finishes the job.
      const relay = startRelay({ store, js: nats.js, relayId, batchSize: 500 });
      cleanups.push(() => relay.stop());
      await relay.caughtUp();
      await expectExactlyOnce(nats, deliveries, durable);
      await relay.stop();
    },
  );
});

const script = fileURLToPath(new URL('./testing/relayProcess.ts', import.meta.url));

function relayProcess(natsUrl: string, tag: string, relayId: string, extra: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', script], {
    env: {
      ...process.env,
      NATS_URL: natsUrl,
      STORE_URL: pgServer.url(),
      STORE_SCHEMA: `es_${tag}`,
      RELAY_ID: relayId,
      BATCH_SIZE: '500',
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanups.push(async () => void child.kill('SIGKILL'));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  const logs = () =>
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { msg: string } & Record<string, unknown>);
  return { child, exited, logs };
}
