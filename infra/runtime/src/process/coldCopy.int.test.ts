import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPlan, uuidv7 } from '@pgfleet/contracts';
import {
  CLONED_MARKER,
  createReplicationRole,
  ensureReplicationSlots,
  freePort,
  generatePassword,
  nodeStatus,
  ownedTempDir,
  withClient,
} from '@pgfleet/postgres';
import { createProcessRuntime } from './processRuntime.js';
import type { NodeInfo, NodeRuntime } from '../port.js';

/**
 * A new cluster's follower copied from its stopped leader's data directory (no pg_basebackup):
 * refused once the leader runs, a standby of it with the leader's system identifier otherwise.
 */
const plan = findPlan('business-1024')!;
const clusterId = uuidv7();
const password = generatePassword();
let home: string;
let runtime: NodeRuntime;
let leader: NodeInfo;
let copy: NodeInfo;
let late: NodeInfo;

const sql = async <T>(nodeId: string, text: string): Promise<T[]> =>
  withClient(await runtime.endpoint(nodeId), async (q) => (await q.query(text)).rows as T[]);

const copySetup = async (slotName: string) => ({
  plan,
  sourceNodeId: leader.nodeId,
  leader: { ...(await runtime.peerAddress(leader.nodeId)), user: 'replicator', password },
  slotName,
});

beforeAll(async () => {
  home = await ownedTempDir('pgfleet-copy-');
  runtime = createProcessRuntime({ home });
  const node = async (nodeId: string) => runtime.create({ clusterId, nodeId, major: 15, port: await freePort() });
  [leader, copy, late] = [await node('node-a'), await node('node-b'), await node('node-c')];
}, 60_000);

afterAll(async () => {
  for (const n of [leader, copy, late]) if (n) await runtime.remove(n.nodeId).catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
});

describe('a follower copied from its stopped, new leader', () => {
  it('streams from the leader once both run, with its system identifier, its own port and no marker left', async () => {
    await runtime.initialize(leader.nodeId, { plan });
    await runtime.copyStopped(copy.nodeId, await copySetup('node_b'));
    expect(existsSync(join(copy.dataDir, CLONED_MARKER))).toBe(true);
    // Done again (a retried step): the complete copy is only reconfigured.
    await runtime.copyStopped(copy.nodeId, await copySetup('node_b'));

    await runtime.start(leader.nodeId);
    const target = await runtime.endpoint(leader.nodeId);
    await createReplicationRole(target, { role: 'replicator', password });
    await ensureReplicationSlots(target, ['node_b']);
    await ensureReplicationSlots(target, ['node_b']); // idempotent
    await sql(leader.nodeId, 'CREATE TABLE t AS SELECT 42 AS answer');
    await runtime.start(copy.nodeId);
    expect(existsSync(join(copy.dataDir, CLONED_MARKER))).toBe(false);

    const ids = async (nodeId: string) =>
      (await sql<{ id: string }>(nodeId, 'SELECT system_identifier::text AS id FROM pg_control_system()'))[0]!.id;
    expect(await ids(copy.nodeId)).toBe(await ids(leader.nodeId));
    for (let i = 0; ; i++) {
      const standbys = (await nodeStatus(target)).standbys.filter((s) => s.state === 'streaming');
      if (standbys.length === 1) {
        expect(standbys[0]!.applicationName).toBe('node_b');
        break;
      }
      if (i > 300) throw new Error('the copy never streamed');
      await new Promise((r) => setTimeout(r, 50));
    }
    for (let i = 0; ; i++) {
      const rows = await sql<{ answer: number }>(copy.nodeId, 'SELECT answer FROM t').catch(() => []);
      if (rows[0]?.answer === 42) break;
      if (i > 300) throw new Error('the copy never replayed the table');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await sql<{ r: boolean }>(copy.nodeId, 'SELECT pg_is_in_recovery() AS r'))[0]!.r).toBe(true);
    expect((await sql<{ p: string }>(copy.nodeId, "SELECT current_setting('port') AS p"))[0]!.p).toBe(
      String(copy.port),
    );
  });

  it('is refused for a plan with fewer connections than the copied control file records', async () => {
    const small = { ...(await copySetup('node_c')), plan: findPlan('sandbox')! };
    await runtime.stop(leader.nodeId, 'fast');
    try {
      await expect(runtime.copyStopped(late.nodeId, small)).rejects.toThrow(/max_connections 20 is below its recorded/);
    } finally {
      await runtime.start(leader.nodeId);
    }
    expect(await runtime.isInitialized(late.nodeId)).toBe(false);
  });

  it('is refused while the leader runs, and leaves the target uninitialized', async () => {
    await expect(runtime.copyStopped(late.nodeId, await copySetup('node_c'))).rejects.toThrow(
      /node-a runs: a follower is copied only from a stopped, new leader/,
    );
    expect(await runtime.isInitialized(late.nodeId)).toBe(false);
  });
});
