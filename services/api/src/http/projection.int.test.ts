import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamIds } from '@pgfleet/contracts';
import { createPostgresEventStore, type PostgresEventStore } from '@pgfleet/eventstore';
import { freePort, ownedTempDir, startLocalServer, type LocalServer } from '@pgfleet/postgres';
import { ClusterProjection } from './projection.js';

let server: LocalServer;
let dir: string;
let store: PostgresEventStore;
const settings = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };

beforeAll(async () => {
  dir = await ownedTempDir('pgfleet-api-projection-');
  server = await startLocalServer({ dataDir: join(dir, 'data'), port: await freePort(), settings });
  // A fallback poll far longer than the test: only caughtUp() can make the projection current in time.
  store = createPostgresEventStore({ connectionString: server.url(), pollIntervalMs: 600_000 });
  await store.migrate();
});

afterAll(async () => {
  await store?.close();
  await server?.stop('immediate');
  if (dir) await rm(dir, { recursive: true, force: true });
});

const request = (clusterId: string, name: string) =>
  store.appendToStream(streamIds.cluster(clusterId), [
    {
      type: 'ClusterRequested',
      data: {
        clusterId,
        name,
        accountId: 'default',
        plan: 'starter-512',
        version: 15,
        nodes: [{ nodeId: 'node1', role: 'leader' }],
        secretRef: `clusters/${clusterId}`,
      },
    },
  ]);
const ready = (clusterId: string) =>
  store.appendToStream(streamIds.cluster(clusterId), [
    { type: 'ClusterReady', data: { leader: 'node1', host: '127.0.0.1', port: 5432, database: 'app', user: 'app' } },
  ]);

describe('the API cluster list, fed by one non-durable subscription', () => {
  it('is rebuilt from the whole store at start; a read right after an accepted write sees it, no poll', async () => {
    await request('c-before', 'before-start');
    await ready('c-before');
    const projection = new ClusterProjection(store);
    await projection.start();
    try {
      expect(projection.byName('before-start')).toMatchObject({ status: 'ready', streamVersion: 2, nodes: 1 });
      for (let i = 0; i < 20; i++) {
        await request(`c${i}`, `shop-${i}`);
        await projection.caughtUp();
        expect(projection.byName(`shop-${i}`)).toMatchObject({ clusterId: `c${i}`, status: 'provisioning' });
        await ready(`c${i}`);
        await projection.caughtUp();
        expect(projection.get(`c${i}`)).toMatchObject({ status: 'ready', leader: 'node1', streamVersion: 2 });
      }
      expect(projection.list().map((c) => c.name)).toContain('shop-19');
      // No checkpoint is stored: the next start folds the store from the beginning again.
      expect(await store.loadCheckpoint('api-cluster-list')).toBeNull();
    } finally {
      await projection.stop();
    }
    const again = new ClusterProjection(store);
    await again.start();
    try {
      expect(again.list()).toHaveLength(21);
    } finally {
      await again.stop();
    }
  });
});
