import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { findPlan } from '@pgfleet/contracts';
import { freePort, ownedTempDir, withClient } from '@pgfleet/postgres';
import type { NodeRuntime } from '../port.js';
import { createProcessRuntime } from './processRuntime.js';

const plan = findPlan('sandbox')!;
let home: string | undefined;
let runtime: NodeRuntime | undefined;

afterAll(async () => {
  for (const n of ['a', 'x']) await runtime?.remove(n).catch(() => undefined);
  if (home) rmSync(home, { recursive: true, force: true });
});

const sql = async (nodeId: string, text: string) =>
  withClient(await runtime!.endpoint(nodeId), async (q) => (await q.query(text)).rows);

describe('continuous archive with pgBackRest, PostgreSQL 13', () => {
  it('backs up a 13 leader and restores it into a new node at a time between two batches', async () => {
    home = await ownedTempDir('pgfleet-pitr13-');
    runtime = createProcessRuntime({ home });
    await runtime.create({ clusterId: 'c1', nodeId: 'a', major: 13, port: await freePort() });
    await runtime.create({ clusterId: 'c2', nodeId: 'x', major: 13, port: await freePort() });
    await runtime.initialize('a', { plan, archive: { stanza: 'p13' } });
    await runtime.start('a');
    await runtime.archive.createStanza('p13', 'a');
    const backup = await runtime.archive.backup('p13', { leaderNodeId: 'a' });
    // The window starts at the backup's stop time (whole seconds, rounded up): write after it.
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(backup.stoppedAt) + 100 - Date.now())));
    await sql('a', 'CREATE TABLE t (b int)');
    await sql('a', 'INSERT INTO t VALUES (1)');
    const [{ at }] = await sql('a', 'SELECT clock_timestamp()::text AS at');
    await sql('a', 'INSERT INTO t VALUES (2)');
    await runtime.archive.check('p13', 'a'); // switches WAL and waits until it is archived
    await runtime.archive.restore('x', { stanza: 'p13', targetTime: at as string, setup: { plan } });
    expect(await sql('x', 'SELECT b FROM t')).toEqual([{ b: 1 }]);
    expect(
      await sql('x', "SELECT current_setting('server_version_num')::int / 10000 AS v, pg_is_in_recovery() AS r"),
    ).toEqual([{ v: 13, r: false }]);
  });
});
