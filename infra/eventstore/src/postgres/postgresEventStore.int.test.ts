import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ownedTempDir, startLocalServer, type LocalServer } from '@pgfleet/postgres';
import { eventStoreContractSuite } from '../testing/contractSuite.js';
import { uuidv7 } from '@pgfleet/contracts';
import { nodeStopped, streamOf, uniqueTag, waitFor } from '../testing/fixtures.js';
import { createPostgresEventStore, type PostgresEventStoreOptions } from './postgresEventStore.js';
import { latestSchemaVersion } from './schema.js';

let server: LocalServer;
let dir: string;
let admin: pg.Pool;

beforeAll(async () => {
  dir = await ownedTempDir('pgfleet-eventstore-');
  server = await startLocalServer({
    dataDir: join(dir, 'data'),
    port: await freePort(),
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
  });
  admin = new pg.Pool({ connectionString: server.url(), max: 2 });
});

afterAll(async () => {
  await admin?.end();
  await server?.stop('immediate');
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A store in a schema of its own, dropped afterwards. */
async function freshStore(extra: Partial<PostgresEventStoreOptions> = {}) {
  const schema = `es_${uniqueTag()}`;
  const store = createPostgresEventStore({ connectionString: server.url(), schema, pollIntervalMs: 200, ...extra });
  await store.migrate();
  return {
    store,
    schema,
    holdOpenAppend: (
      streamId: string,
      events: Parameters<typeof store.appendToStream>[1],
      options: { expectedVersion?: number | 'no_stream' | 'stream_exists' | 'any'; hold: () => Promise<void> },
    ) =>
      store.appendToStream(streamId, events, { expectedVersion: options.expectedVersion, beforeCommit: options.hold }),
    cleanup: async () => {
      await store.close();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    },
  };
}

eventStoreContractSuite('PostgreSQL', freshStore);

describe('PostgreSQL event store', () => {
  it('migrates idempotently, concurrently, and records its schema version', async () => {
    const { store, schema, cleanup } = await freshStore();
    try {
      const again = createPostgresEventStore({ connectionString: server.url(), schema });
      const other = createPostgresEventStore({ connectionString: server.url(), schema });
      await Promise.all([again.migrate(), other.migrate(), store.migrate()]);
      await Promise.all([again.close(), other.close()]);
      const { rows } = await admin.query(`SELECT version FROM ${schema}.schema_version ORDER BY version`);
      expect(rows).toEqual(Array.from({ length: latestSchemaVersion() }, (_, i) => ({ version: i + 1 })));
    } finally {
      await cleanup();
    }
  });

  it(
    'does not let a reader pass an open transaction: an event committed out of order is read after the older one, ' +
      'never skipped',
    async () => {
      const { store, cleanup } = await freshStore();
      try {
        const tag = uniqueTag();
        let release!: () => void;
        const held = new Promise<void>((resolve) => {
          release = resolve;
        });
        let inside!: () => void;
        const written = new Promise<void>((resolve) => {
          inside = resolve;
        });
        const older = store.appendToStream(streamOf(tag, 'older'), [nodeStopped('older')], {
          beforeCommit: async () => {
            inside();
            await held;
          },
        });
        await written;
        const younger = await store.appendToStream(streamOf(tag, 'younger'), [nodeStopped('younger')]);
        expect(younger.events).toHaveLength(1);

        const blocked = await store.readAll();
        expect(blocked.events).toEqual([]);
        expect(blocked.checkpoint).toBeNull();

        release();
        await older;
        const after = await store.readAll();
        expect(after.events.map((e) => (e.data as { nodeId: string }).nodeId)).toEqual(['older', 'younger']);
      } finally {
        await cleanup();
      }
    },
  );

  it('cuts off a transaction left idle (idle_in_transaction_session_timeout): it stores nothing', async () => {
    const { store, cleanup } = await freshStore({ idleInTransactionTimeoutMs: 300, statementTimeoutMs: 5000 });
    try {
      const stream = streamOf(uniqueTag(), 'idle');
      const stuck = store.appendToStream(stream, [nodeStopped('stuck')], {
        beforeCommit: () => new Promise((r) => setTimeout(r, 1500)),
      });
      await expect(stuck).rejects.toThrow();
      expect((await store.readStream(stream)).currentVersion).toBe(0);
      expect((await store.appendToStream(stream, [nodeStopped('next')])).nextExpectedVersion).toBe(1);
    } finally {
      await cleanup();
    }
  });

  it('cancels a statement that waits too long (statement_timeout), e.g. behind a held stream lock', async () => {
    const { store, cleanup } = await freshStore({ idleInTransactionTimeoutMs: 10_000, statementTimeoutMs: 300 });
    try {
      const stream = streamOf(uniqueTag(), 'locked');
      const holder = store.appendToStream(stream, [nodeStopped('holder')], {
        beforeCommit: () => new Promise((r) => setTimeout(r, 1500)),
      });
      await new Promise((r) => setTimeout(r, 100));
      await expect(store.appendToStream(stream, [nodeStopped('waiter')])).rejects.toMatchObject({ code: '57014' });
      await holder;
      expect((await store.readStream(stream)).events.map((e) => (e.data as { nodeId: string }).nodeId)).toEqual([
        'holder',
      ]);
    } finally {
      await cleanup();
    }
  });

  it('keeps a subscription running across lost connections (server-side terminate)', async () => {
    const { store, cleanup } = await freshStore({ applicationName: 'pgfleet-eventstore-reconnect' });
    try {
      const tag = uniqueTag();
      const received: string[] = [];
      const errors: unknown[] = [];
      const sub = store.subscribe({
        subscriberId: `reconnect-${tag}`,
        handler: (e) => {
          received.push(e.id);
        },
        onError: (e) => errors.push(e),
      });
      await store.appendToStream(streamOf(tag, 'r'), [nodeStopped('one')]);
      await sub.caughtUp();
      expect(received).toHaveLength(1);

      const killed = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = 'pgfleet-eventstore-reconnect'`,
      );
      expect(killed.rowCount).toBeGreaterThan(0);
      // The pool may hand out connections still dying from the kill: retry the same event (same id:
      // stored at most once).
      const two = nodeStopped('two', { id: uuidv7() });
      for (let attempt = 1; ; attempt++) {
        try {
          await store.appendToStream(streamOf(tag, 'r'), [two]);
          break;
        } catch (error) {
          if (attempt === 5) throw error;
        }
      }
      await waitFor(() => received.length === 2, 'the event appended after the connections were killed');
      await store.appendToStream(streamOf(tag, 'r'), [nodeStopped('three')]);
      await waitFor(() => received.length === 3, 'a live event after reconnecting');
      await sub.stop();
      expect(new Set(received).size).toBe(3);
    } finally {
      await cleanup();
    }
  });
});
