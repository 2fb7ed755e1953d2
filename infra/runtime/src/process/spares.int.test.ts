import { existsSync, rmSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPlan, uuidv7 } from '@pgfleet/contracts';
import { dataRoot, freePort, ownedTempDir, postgresOsUser, readySpares, withClient } from '@pgfleet/postgres';
import { createProcessRuntime } from './processRuntime.js';
import type { NodeRuntime } from '../port.js';

const plan = findPlan('sandbox')!;
const clusterId = uuidv7();
let home: string;
let root: string;
let runtime: NodeRuntime;

const sql = async <T>(nodeId: string, text: string): Promise<T[]> =>
  withClient(await runtime.endpoint(nodeId), async (q) => (await q.query(text)).rows as T[]);
const systemId = async (nodeId: string) => (await runtime.controlData(nodeId))['Database system identifier'];

beforeAll(async () => {
  home = await ownedTempDir('pgfleet-spares-');
  root = dataRoot(home);
  runtime = createProcessRuntime({ home, spares: true });
});

afterAll(async () => {
  await runtime?.warm?.(15).catch(() => undefined); // no initdb left writing in the home
  if (runtime) for (const n of await runtime.list(clusterId)) await runtime.remove(n.nodeId).catch(() => undefined);
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('process runtime with spare data directories', () => {
  it('initialize renames the warm spare into place: the node starts, answers, has a system id of its own', async () => {
    await runtime.warm!(15);
    const [spare] = readySpares(root, 15);
    expect(spare).toBeDefined();

    const a = await runtime.create({ clusterId, nodeId: 'spare-a', major: 15, port: await freePort() });
    await runtime.initialize(a.nodeId, { plan, clusterName: 'spare_a' });
    expect(existsSync(spare!)).toBe(false);
    expect(await runtime.isInitialized(a.nodeId)).toBe(true);
    expect(statSync(a.dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(a.dataDir).uid).toBe(postgresOsUser().uid);

    // The replacement is made in the background; the next node takes it.
    await runtime.warm!(15);
    const [replacement] = readySpares(root, 15);
    expect(replacement).toBeDefined();
    const b = await runtime.create({ clusterId, nodeId: 'spare-b', major: 15, port: await freePort() });
    await runtime.initialize(b.nodeId, { plan });
    expect(existsSync(replacement!)).toBe(false);

    await Promise.all([runtime.start(a.nodeId), runtime.start(b.nodeId)]);
    const settings = `SELECT current_setting('port')::int AS port, current_setting('cluster_name') AS name,
                             current_setting('data_checksums') AS checksums`;
    expect(await sql(a.nodeId, settings)).toEqual([{ port: a.port, name: 'spare_a', checksums: 'on' }]);
    expect(await sql(b.nodeId, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    const [idA, idB] = await Promise.all([systemId(a.nodeId), systemId(b.nodeId)]);
    expect(idA).toMatch(/^\d+$/);
    expect(idA).not.toBe(idB);
  });

  it('without spares the runtime runs initdb and leaves the ready spare alone', async () => {
    await runtime.warm!(15);
    const [spare] = readySpares(root, 15);
    const plain = createProcessRuntime({ home });
    const c = await plain.create({ clusterId, nodeId: 'plain-c', major: 15, port: await freePort() });
    await plain.initialize(c.nodeId, { plan });
    await plain.warm?.(15);
    expect(readySpares(root, 15)).toEqual([spare]);
    expect(await plain.isInitialized(c.nodeId)).toBe(true);
  });
});
