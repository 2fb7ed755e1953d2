import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS_STREAM, eventFilter, uuidv7 } from '@pgfleet/contracts';
import { createPostgresEventStore, type NewEvent, type ParkedEvent } from '@pgfleet/eventstore';
import { freePort, ownedTempDir, startLocalServer, type LocalServer } from '@pgfleet/postgres';
import { consumeEvents } from './consumer.js';
import { startRelay } from './relay.js';
import { startNatsHarness, waitFor, type NatsHarness } from './testing/harness.js';

let pgServer: LocalServer;
let pgDir: string;
let nats: NatsHarness;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  pgDir = await ownedTempDir('pgfleet-bus-relay-wake-');
  const settings = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };
  pgServer = await startLocalServer({ dataDir: join(pgDir, 'data'), port: await freePort(), settings });
  nats = await startNatsHarness();
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await nats?.close();
  await pgServer?.stop('immediate');
  if (pgDir) await rm(pgDir, { recursive: true, force: true });
});

let tags = 0;
const stopped = (nodeId: string) => ({ type: 'NodeStopped', data: { nodeId } }) as NewEvent;

/** A store of its own, a relay that would poll only once a minute, and a consumer of its streams. */
async function fixture() {
  const tag = `w${Date.now().toString(36)}${++tags}`;
  const schema = `es_${tag}`;
  const parked: ParkedEvent[] = [];
  const store = createPostgresEventStore({
    connectionString: pgServer.url(),
    schema,
    onParked: (e) => void parked.push(e),
  });
  await store.migrate();
  cleanups.push(() => store.close());
  const relay = startRelay({ store, js: nats.js, relayId: `relay-${tag}`, idlePollMs: 60_000 });
  cleanups.push(() => relay.stop());
  const received: string[] = [];
  const filterSubjects = [eventFilter({ category: 'cluster' })];
  const handler = (e: { streamId: string; data: unknown }) => {
    if (e.streamId.startsWith(`cluster-${tag}`)) received.push((e.data as { nodeId: string }).nodeId);
  };
  const consumer = await consumeEvents({ js: nats.js, durable: `d-${tag}`, filterSubjects, handler });
  cleanups.push(() => consumer.stop());
  await relay.caughtUp();
  return { tag, schema, store, relay, received, parked };
}

describe('relay wake-ups', () => {
  it('publishes an append at once, woken by the store, not by its fallback poll (here once a minute)', async () => {
    const { tag, store, relay, received } = await fixture();
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    await store.appendToStream(`cluster-${tag}_a`, [stopped('local')]);
    await waitFor(() => received.length === 1, 'the event appended in this process', 5000);

    // Another process appending: the relay hears of it through LISTEN/NOTIFY.
    const other = createPostgresEventStore({ connectionString: pgServer.url(), schema: `es_${tag}` });
    try {
      await other.appendToStream(`cluster-${tag}_b`, [stopped('remote')]);
    } finally {
      await other.close();
    }
    await waitFor(() => received.length === 2, 'the event appended by another process', 5000);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(received).toEqual(['local', 'remote']);
    await relay.stop();
  });

  it('goes past events the store parks (left out of reads), publishing the ones after them', async () => {
    const { tag, schema, store, relay, received, parked } = await fixture();
    const stream = `cluster-${tag}_p`;
    await store.appendToStream(stream, [stopped('before')]);
    const admin = new pg.Client({ connectionString: pgServer.url() });
    await admin.connect();
    const future = uuidv7();
    try {
      await admin.query(`UPDATE ${schema}.streams SET version = 2 WHERE stream_id = $1`, [stream]);
      await admin.query(
        `INSERT INTO ${schema}.events (event_id, stream_id, stream_version, type, schema_version, data, occurred_at,
                                      correlation_id, causation_id, actor_kind, actor_id)
         VALUES ($1, $2, 2, 'NodeStopped', 9, '{"nodeId":"future"}', now(), 'c', NULL, 'system', 'pgfleet')`,
        [future, stream],
      );
    } finally {
      await admin.end();
    }
    await relay.caughtUp();
    const passed = await store.loadCheckpoint(`relay-${tag}`);
    expect(passed).toBe((await store.readAll({ limit: 1000 })).checkpoint);
    await store.appendToStream(stream, [stopped('after')], { expectedVersion: 2 });
    await waitFor(() => received.length === 2, 'the event after the parked one');
    await relay.caughtUp();
    expect(received).toEqual(['before', 'after']);
    expect(parked.map((e) => [e.id, e.code])).toEqual([[future, 'UPCAST_FAILED']]);
    const subject = `pgfleet.events.cluster.${stream}.NodeStopped`;
    expect((await nats.jsm.streams.info(EVENTS_STREAM, { subjects_filter: subject })).state.subjects?.[subject]).toBe(
      2,
    );
    await relay.stop();
  });
});
