import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { createPostgresEventStore, type NewEvent } from '@pgfleet/eventstore';
import { freePort, ownedTempDir, startLocalServer } from '@pgfleet/postgres';
import { consumeEvents } from './src/consumer.js';
import { startRelay } from './src/relay.js';
import { startNatsHarness, sleep } from './src/testing/harness.js';

const dir = await ownedTempDir('lat-');
const pg = await startLocalServer({ dataDir: join(dir, 'data'), port: await freePort(), settings: { fsync: 'off', synchronous_commit: 'off' } });
const nats = await startNatsHarness();
const store = createPostgresEventStore({ connectionString: pg.url(), schema: 'lat' });
await store.migrate();
const relay = startRelay({ store, js: nats.js, batchSize: 500 });
const lat: number[] = []; const commit: number[] = [];
const sent = new Map<string, number>();
const c = await consumeEvents({ js: nats.js, durable: 'lat', handler: (e) => { const t = sent.get((e.data as { nodeId: string }).nodeId); if (t) lat.push(performance.now() - t); } });
const start = performance.now();
for (let i = 0; i < 5000; i++) {
  const due = start + i; // 1000/s
  const wait = due - performance.now();
  if (wait > 0) await sleep(wait);
  const id = `n${i}`;
  sent.set(id, performance.now());
  void store.appendToStream(`cluster-x${i % 50}`, [{ type: 'NodeStopped', data: { nodeId: id } } as NewEvent]).then(() => commit.push(performance.now() - sent.get(id)!));
}
await sleep(1000);
lat.sort((a, b) => a - b); commit.sort((a, b) => a - b); console.log('commit p50', commit[2500], 'p99', commit[4950]);
console.log('n', lat.length, 'p50', lat[Math.floor(lat.length * 0.5)]!.toFixed(2), 'p99', lat[Math.floor(lat.length * 0.99)]!.toFixed(2), 'max', lat.at(-1)!.toFixed(2));
await c.stop(); await relay.stop(); await store.close(); await nats.close(); await pg.stop('immediate'); await rm(dir, { recursive: true, force: true });
