import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { it, expect } from 'vitest';
import { createPostgresEventStore, type NewEvent } from '@pgfleet/eventstore';
import { freePort, ownedTempDir, startLocalServer } from '@pgfleet/postgres';

it('debug', async () => {
  const dir = await ownedTempDir('dbg-');
  const server = await startLocalServer({ dataDir: join(dir, 'data'), port: await freePort(), settings: { fsync: 'off' } });
  const a = createPostgresEventStore({ connectionString: server.url(), schema: 'es_x' });
  await a.migrate();
  let woken = 0;
  a.onAppended(() => { woken++; console.log('woken', Date.now()); });
  await new Promise((r) => setTimeout(r, 500));
  const b = createPostgresEventStore({ connectionString: server.url(), schema: 'es_x' });
  await b.appendToStream('cluster-x_1', [{ type: 'NodeStopped', data: { nodeId: 'n' } } as NewEvent]);
  console.log('appended', Date.now());
  await b.close();
  await new Promise((r) => setTimeout(r, 1000));
  console.log('woken', woken);
  await a.close();
  await server.stop('immediate');
  await rm(dir, { recursive: true, force: true });
});
