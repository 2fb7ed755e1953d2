import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, foldClusterView, uuidv7, type EventEnvelope } from '@pgfleet/contracts';
import { freePort, ownedTempDir, startLocalServer, type LocalServer } from '@pgfleet/postgres';
import type { EventStore, NewEvent, ParkedEvent } from '../port.js';
import { nodeStopped, ownedBy, readAllPages, streamOf, uniqueTag } from '../testing/fixtures.js';
import { createPostgresEventStore, type PostgresEventStoreOptions } from './postgresEventStore.js';

/** A stored event of the fixture: the columns of an events row, as an older pgfleet wrote them. */
interface StoredFixture {
  id: string;
  type: string;
  schemaVersion: number;
  occurredAt: string;
  correlationId: string;
  causationId: string | null;
  actor: { kind: string; id: string };
  data: Record<string, unknown>;
}

let server: LocalServer;
let dir: string;
let admin: pg.Pool;
let legacy: StoredFixture[];

beforeAll(async () => {
  dir = await ownedTempDir('pgfleet-eventstore-upcast-');
  const settings = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };
  server = await startLocalServer({ dataDir: join(dir, 'data'), port: await freePort(), settings });
  admin = new pg.Pool({ connectionString: server.url(), max: 2 });
  const fixture = new URL('../testing/fixtures/cluster-stream-v1.json', import.meta.url);
  legacy = (JSON.parse(await readFile(fixture, 'utf8')) as { events: StoredFixture[] }).events;
});

afterAll(async () => {
  await admin?.end();
  await server?.stop('immediate');
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A store in a schema of its own, with every parked event it reports; dropped afterwards. */
async function freshStore(extra: Partial<PostgresEventStoreOptions> = {}) {
  const schema = `es_${uniqueTag()}`;
  const reported: ParkedEvent[] = [];
  const options = { connectionString: server.url(), schema, pollIntervalMs: 200, ...extra };
  const store = createPostgresEventStore({ onParked: (e) => void reported.push(e), ...options });
  await store.migrate();
  return {
    store,
    schema,
    reported,
    cleanup: async () => {
      await store.close();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    },
  };
}

/** Insert stored rows as they are (no validation, no upcasting), continuing the stream's version. */
async function insertStored(schema: string, streamId: string, rows: readonly StoredFixture[]): Promise<void> {
  const client = await admin.connect();
  try {
    await client.query('BEGIN');
    const {
      rows: [stream],
    } = await client.query<{ version: string }>(
      `INSERT INTO ${schema}.streams AS st (stream_id, version) VALUES ($1, 0)
       ON CONFLICT (stream_id) DO UPDATE SET version = st.version RETURNING version`,
      [streamId],
    );
    let version = Number(stream!.version);
    for (const row of rows) {
      await client.query(
        `INSERT INTO ${schema}.events (event_id, stream_id, stream_version, type, schema_version, data, occurred_at,
                                      correlation_id, causation_id, actor_kind, actor_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          row.id,
          streamId,
          ++version,
          row.type,
          row.schemaVersion,
          JSON.stringify(row.data),
          row.occurredAt,
          row.correlationId,
          row.causationId,
          row.actor.kind,
          row.actor.id,
        ],
      );
    }
    await client.query(`UPDATE ${schema}.streams SET version = $2 WHERE stream_id = $1`, [streamId, version]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

/** The fixture's events as pgfleet writes them today: current schema, fresh ids, same instants. */
function writtenToday(): NewEvent[] {
  return legacy.map((e) => {
    const { dataDir: _hostPath, ...data } = e.data;
    return {
      type: e.type,
      data,
      occurredAt: new Date(e.occurredAt),
      actor: e.actor,
      id: uuidv7(),
    } as NewEvent;
  });
}

/** The test's events as a new durable subscriber receives them, from the beginning until caught up. */
async function subscribed(store: EventStore, tag: string): Promise<EventEnvelope[]> {
  const received: EventEnvelope[] = [];
  const errors: unknown[] = [];
  const mine = ownedBy(tag);
  const subscription = store.subscribe({
    subscriberId: `upcast-${tag}`,
    batchSize: 2,
    onError: (e) => errors.push(e),
    handler: (e) => void (mine(e) && received.push(e)),
  });
  await subscription.caughtUp();
  await subscription.stop();
  expect(errors).toEqual([]);
  return received;
}

const inStream = (events: readonly EventEnvelope[], streamId: string) => events.filter((e) => e.streamId === streamId);
const nodeIds = (events: readonly EventEnvelope[]) => events.map((e) => (e.data as { nodeId?: string }).nodeId);

describe('PostgreSQL event store: reads upcast old schema versions and park what they cannot read', () => {
  it(
    'folds a stream stored with NodeProvisioned v1 (with dataDir) to the same cluster view as the stream ' +
      'written today, ' +
      'through readStream, readAll and subscribe',
    async () => {
      const { store, schema, reported, cleanup } = await freshStore();
      try {
        const tag = uniqueTag();
        const [old, today] = [streamOf(tag, 'v1'), streamOf(tag, 'today')];
        expect(legacy.filter((e) => e.type === 'NodeProvisioned').map((e) => e.schemaVersion)).toEqual([1, 1]);
        await insertStored(schema, old, legacy);
        await store.appendToStream(today, writtenToday(), { expectedVersion: 'no_stream' });

        const expected = foldClusterView((await store.readStream(today)).events);
        expect(expected).toMatchObject({ status: 'ready', version_: legacy.length, clusterId: 'c-legacy' });
        expect(expected.nodes.map((n) => [n.nodeId, n.port, n.provisioned])).toEqual([
          ['n1', 6001, true],
          ['n2', 6002, true],
        ]);

        const viaStream = await store.readStream(old);
        expect(viaStream.currentVersion).toBe(legacy.length);
        const viaAll = inStream((await readAllPages(store, ownedBy(tag), 3)).events, old);
        const viaSubscription = inStream(await subscribed(store, tag), old);
        for (const events of [viaStream.events, viaAll, viaSubscription]) {
          expect(events.map((e) => e.id)).toEqual(legacy.map((e) => e.id));
          expect(foldClusterView(events)).toEqual(expected);
          for (const e of events.filter((x) => x.type === 'NodeProvisioned')) {
            expect(e.schemaVersion).toBe(EVENTS.NodeProvisioned.schemaVersion);
            expect(e.data).not.toHaveProperty('dataDir');
          }
        }
        expect(reported).toEqual([]);
      } finally {
        await cleanup();
      }
    },
  );

  it(
    'parks an event it cannot upcast (NodeStopped v9) or of an unknown type: reported once, listed in parked_events, ' +
      'passed by readAll and the subscription, still counted by readStream',
    async () => {
      const { store, schema, reported, cleanup } = await freshStore();
      try {
        const tag = uniqueTag();
        const [stream, other] = [streamOf(tag, 'future'), streamOf(tag, 'unknown')];
        await store.appendToStream(stream, [nodeStopped('a'), nodeStopped('b')], { expectedVersion: 'no_stream' });
        const stored = (type: string, schemaVersion: number, data: Record<string, unknown>): StoredFixture => ({
          id: uuidv7(),
          type,
          schemaVersion,
          data,
          occurredAt: new Date().toISOString(),
          correlationId: 'c',
          causationId: null,
          actor: { kind: 'system', id: 'future-pgfleet' },
        });
        const future = stored('NodeStopped', 9, { nodeId: 'c', hibernated: true });
        const unknown = stored('NodeTeleported', 1, { nodeId: 'x', to: 'mars' });
        await insertStored(schema, stream, [future]);
        await insertStored(schema, other, [unknown]);
        await store.appendToStream(stream, [nodeStopped('d')], { expectedVersion: 3 });

        const read = await store.readStream(stream);
        expect(read.currentVersion).toBe(4);
        expect(read.events.map((e) => e.streamVersion)).toEqual([1, 2, 4]);
        expect(
          (await store.appendToStream(stream, [nodeStopped('e')], { expectedVersion: 4 })).nextExpectedVersion,
        ).toBe(5);
        expect(await store.readStream(other)).toEqual({ events: [], currentVersion: 1 });

        for (const limit of [1, 2, 1000]) {
          expect(nodeIds((await readAllPages(store, ownedBy(tag), limit)).events)).toEqual(['a', 'b', 'd', 'e']);
        }
        const page = await store.readAll({ limit: 1000 });
        expect(nodeIds(page.events)).toEqual(['a', 'b', 'd', 'e']);
        expect(await store.readAll({ after: page.checkpoint })).toEqual({ events: [], checkpoint: page.checkpoint });
        expect(nodeIds(await subscribed(store, tag))).toEqual(['a', 'b', 'd', 'e']);

        const live: EventEnvelope[] = [];
        const subscription = store.subscribe({ subscriberId: `live-${tag}`, handler: (e) => void live.push(e) });
        await subscription.caughtUp();
        const later = stored('NodeStopped', 9, { nodeId: 'f' });
        await insertStored(schema, stream, [later]);
        await store.appendToStream(stream, [nodeStopped('g')]);
        await subscription.caughtUp();
        await subscription.stop();
        expect(nodeIds(live)).toEqual(['a', 'b', 'd', 'e', 'g']);
        const stoppedAt = await store.loadCheckpoint(`live-${tag}`);
        expect(stoppedAt).toBe((await store.readAll({ limit: 1000 })).checkpoint);

        expect(reported.map((e) => e.id).sort()).toEqual([future.id, unknown.id, later.id].sort());
        expect(reported.find((e) => e.id === future.id)).toEqual({
          id: future.id,
          streamId: stream,
          streamVersion: 3,
          type: 'NodeStopped',
          schemaVersion: 9,
          code: 'UPCAST_FAILED',
          reason: expect.stringMatching(/NodeStopped v9 is newer/),
        });
        expect(reported.find((e) => e.id === unknown.id)).toMatchObject({
          code: 'UNKNOWN_EVENT_TYPE',
          type: 'NodeTeleported',
        });
        const { rows } = await admin.query(
          `SELECT event_id::text AS id, stream_id, stream_version::int AS version, type, schema_version, code
           FROM ${schema}.parked_events ORDER BY stream_id, stream_version`,
        );
        expect(rows).toEqual([
          {
            id: future.id,
            stream_id: stream,
            version: 3,
            type: 'NodeStopped',
            schema_version: 9,
            code: 'UPCAST_FAILED',
          },
          {
            id: later.id,
            stream_id: stream,
            version: 6,
            type: 'NodeStopped',
            schema_version: 9,
            code: 'UPCAST_FAILED',
          },
          {
            id: unknown.id,
            stream_id: other,
            version: 1,
            type: 'NodeTeleported',
            schema_version: 1,
            code: 'UNKNOWN_EVENT_TYPE',
          },
        ]);

        // Another process meeting the same events finds them recorded: nothing is reported twice.
        const again: ParkedEvent[] = [];
        const second = createPostgresEventStore({
          connectionString: server.url(),
          schema,
          onParked: (e) => void again.push(e),
        });
        try {
          expect(nodeIds((await readAllPages(second, ownedBy(tag))).events)).toEqual(['a', 'b', 'd', 'e', 'g']);
        } finally {
          await second.close();
        }
        expect(again).toEqual([]);
      } finally {
        await cleanup();
      }
    },
  );
});
