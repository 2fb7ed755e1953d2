import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPlan, uuidv7, type Plan } from '@pgfleet/contracts';
import {
  createReplicationRole,
  ensureNodeTls,
  freePort,
  generatePassword,
  nodeStatus,
  ownedTempDir,
  setSynchronousStandbys,
  withClient,
  type NodeTls,
} from '@pgfleet/postgres';
import { createProcessRuntime } from './processRuntime.js';
import type { NodeInfo, NodeRuntime, UpstreamLeader } from '../port.js';

const plan: Plan = findPlan('sandbox')!;
const clusterId = uuidv7();
const password = generatePassword();
let home: string;
let runtime: NodeRuntime;
/** a: the first leader; b and c: its clones. b becomes the leader in the switchover. */
const nodes = {} as Record<'a' | 'b' | 'c', { info: NodeInfo; tls: Required<NodeTls> }>;

const sql = async <T extends pg.QueryResultRow>(nodeId: string, text: string): Promise<T[]> =>
  withClient(await runtime.endpoint(nodeId), async (q) => (await q.query<T>(text)).rows);

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; ; i++) {
    const v = await fn().catch((e: Error) => e);
    if (!(v instanceof Error) && ok(v)) return v;
    if (i > 600) throw new Error(`condition not met; last value ${v instanceof Error ? v.message : JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The leader as its followers reach it: its peer address and the replication role. */
const upstream = async (nodeId: string): Promise<UpstreamLeader> => ({
  ...(await runtime.peerAddress(nodeId)),
  user: 'replicator',
  password,
});

/** The standbys streaming from a leader, with whether their connection is TLS. */
const standbysOf = (nodeId: string) =>
  sql<{ application_name: string; state: string; ssl: boolean }>(
    nodeId,
    `SELECT r.application_name, r.state, s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
    ORDER BY r.application_name`,
  );

const streaming = (standbys: Array<{ state: string }>) => standbys.filter((s) => s.state === 'streaming').length;

/** A connection over TCP as the replication role, plaintext or verifying the node's certificate. */
async function tcpLogin(node: { info: NodeInfo; tls: Required<NodeTls> }, tls: boolean): Promise<string> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: node.info.port,
    user: 'replicator',
    password,
    database: 'postgres',
    ssl: tls ? { ca: readFileSync(node.tls.caFile, 'utf8') } : false,
  });
  await client.connect();
  try {
    const mine = 'SELECT version AS v FROM pg_stat_ssl WHERE pid = pg_backend_pid()';
    return (await client.query<{ v: string }>(mine)).rows[0]!.v;
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  home = await ownedTempDir('pgfleet-repl-');
  runtime = createProcessRuntime({ home });
  for (const name of ['a', 'b', 'c'] as const) {
    const info = await runtime.create({ clusterId, nodeId: `node-${name}`, major: 15, port: await freePort() });
    nodes[name] = { info, tls: await ensureNodeTls(home, clusterId, info.nodeId) };
  }
});

afterAll(async () => {
  if (runtime) for (const n of await runtime.list(clusterId)) await runtime.remove(n.nodeId).catch(() => undefined);
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('replication through the process runtime with real PostgreSQL 15', () => {
  it('initializes a leader with TLS whose superuser endpoint runs SQL over the socket', async () => {
    const { info, tls } = nodes.a;
    expect(await runtime.isInitialized(info.nodeId)).toBe(false);
    expect(await runtime.isInitialized('no-such-node')).toBe(false);
    await runtime.initialize(info.nodeId, { plan, tls, clusterName: 'node-a' });
    await runtime.initialize(info.nodeId, { plan, tls, clusterName: 'node-a' }); // complete: only reconfigured
    expect(await runtime.isInitialized(info.nodeId)).toBe(true);
    await runtime.start(info.nodeId);

    expect(await runtime.endpoint(info.nodeId, 'shop')).toEqual({
      host: info.socketDir,
      port: info.port,
      user: 'postgres',
      database: 'shop',
    });
    expect(await runtime.peerAddress(info.nodeId)).toEqual({ host: '127.0.0.1', port: info.port });
    const rows = await sql(
      info.nodeId,
      "SELECT current_user AS u, current_setting('ssl') AS ssl, current_setting('cluster_name') AS n",
    );
    expect(rows).toEqual([{ u: 'postgres', ssl: 'on', n: 'node-a' }]);
    await createReplicationRole(await runtime.endpoint(info.nodeId), { role: 'replicator', password });
    expect(await tcpLogin(nodes.a, true)).toMatch(/^TLSv1\.[23]$/);
  });

  it('clones followers that stream from their leader over TLS with verify-full', async () => {
    const leader = await upstream(nodes.a.info.nodeId);
    await Promise.all(
      (['b', 'c'] as const).map(async (name) => {
        const { info, tls } = nodes[name];
        await runtime.cloneFrom(info.nodeId, { plan, tls, leader, slotName: `node_${name}` });
        await runtime.start(info.nodeId);
      }),
    );
    const standbys = await eventually(
      () => standbysOf(nodes.a.info.nodeId),
      (r) => streaming(r) === 2,
    );
    expect(standbys).toEqual([
      { application_name: 'node_b', state: 'streaming', ssl: true },
      { application_name: 'node_c', state: 'streaming', ssl: true },
    ]);

    const autoConf = readFileSync(join(nodes.b.info.dataDir, 'postgresql.auto.conf'), 'utf8');
    expect(autoConf).toContain(`sslmode=verify-full sslrootcert=${nodes.b.tls.caFile}`);
    expect(autoConf).not.toContain(password);
    // A complete clone is only reconfigured: the running standby keeps streaming.
    await runtime.cloneFrom(nodes.b.info.nodeId, { plan, tls: nodes.b.tls, leader, slotName: 'node_b' });
    const status = await nodeStatus(await runtime.endpoint(nodes.b.info.nodeId));
    expect(status.receiver).toMatchObject({ status: 'streaming' });
  });

  it('forcing TLS refuses plaintext TCP, accepts TLS, and replication carries on', async () => {
    const { info, tls } = nodes.a;
    expect(await tcpLogin(nodes.a, false)).toBeNull();
    await expect(runtime.configure(info.nodeId, { plan, forceTls: true })).rejects.toThrow(
      /forcing TLS needs the node's TLS/,
    );
    await runtime.configure(info.nodeId, { plan, tls, forceTls: true });

    const plaintextError = () =>
      tcpLogin(nodes.a, false).then(
        () => '',
        (e: Error) => e.message,
      );
    const refused = await eventually(plaintextError, (m) => m !== '');
    expect(refused).toMatch(/no pg_hba\.conf entry .*no encryption/);
    expect(await tcpLogin(nodes.a, true)).toMatch(/^TLSv1\.[23]$/);
    expect(readFileSync(join(info.dataDir, 'pg_hba.conf'), 'utf8')).toMatch(/^hostssl\s+replication\s+replicator/m);
    expect(readFileSync(join(info.dataDir, 'postgresql.conf'), 'utf8')).toContain("cluster_name = 'node-a'");
    expect((await standbysOf(info.nodeId)).map((s) => s.state)).toEqual(['streaming', 'streaming']);
  });

  it('reads the control data of running and stopped nodes, and refuses a node without one', async () => {
    const leader = await runtime.controlData(nodes.a.info.nodeId);
    expect(leader['Latest checkpoint location']).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(leader['Database cluster state']).toBe('in production');
    expect((await runtime.controlData(nodes.b.info.nodeId))['Database cluster state']).toBe('in archive recovery');
    const empty = await runtime.create({ clusterId, nodeId: 'empty', major: 15, port: await freePort() });
    await expect(runtime.controlData(empty.nodeId)).rejects.toMatchObject({ code: 'NOT_INITIALIZED' });
    await runtime.remove(empty.nodeId);
  });

  it('switches over: the follower is promoted and the stopped old leader follows it with verify-full', async () => {
    const [a, b] = [nodes.a.info.nodeId, nodes.b.info.nodeId];
    await setSynchronousStandbys(await runtime.endpoint(a), ['node_b', 'node_c'], 1);
    await sql(a, "CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items VALUES (1, 'before')");

    await runtime.stop(a, 'fast');
    const lastCheckpoint = (await runtime.controlData(a))['Latest checkpoint location']!;
    expect((await runtime.controlData(a))['Database cluster state']).toBe('shut down');
    await eventually(
      () =>
        sql<{ ok: boolean }>(
          b,
          `SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '${lastCheckpoint}'::pg_lsn) > 0 AS ok`,
        ),
      (r) => r[0]!.ok,
    );
    await runtime.promote(b);
    await runtime.promote(b); // already a leader: nothing to do
    expect(await sql(b, 'SELECT pg_is_in_recovery() AS rec')).toEqual([{ rec: false }]);

    await sql(b, "SELECT pg_create_physical_replication_slot('node_a'), pg_create_physical_replication_slot('node_c')");
    await runtime.follow(a, await upstream(b), 'node_a');
    const autoConf = readFileSync(join(nodes.a.info.dataDir, 'postgresql.auto.conf'), 'utf8');
    expect(autoConf).toContain(`port=${nodes.b.info.port}`);
    expect(autoConf).toContain(`sslmode=verify-full sslrootcert=${nodes.a.tls.caFile}`);
    expect(autoConf).toContain("primary_slot_name = 'node_a'");
    expect(autoConf).not.toMatch(/synchronous_standby_names|node_b'/);
    await runtime.start(a);

    const aStreams = (r: Awaited<ReturnType<typeof standbysOf>>) =>
      r.some((s) => s.application_name === 'node_a' && s.state === 'streaming');
    await eventually(() => standbysOf(b), aStreams);
    expect((await standbysOf(b)).find((s) => s.application_name === 'node_a')).toMatchObject({ ssl: true });
    await sql(b, "INSERT INTO items VALUES (2, 'after')");
    expect(
      await eventually(
        () => sql<{ id: number }>(a, 'SELECT id FROM items ORDER BY id'),
        (r) => r.length === 2,
      ),
    ).toEqual([{ id: 1 }, { id: 2 }]);

    // A resumed worker repeats the step on the running standby; a running leader is refused.
    await runtime.follow(a, await upstream(b), 'node_a');
    const receiver = await eventually(
      async () => (await nodeStatus(await runtime.endpoint(a))).receiver,
      (r) => r?.status === 'streaming',
    );
    expect(receiver).toMatchObject({ senderPort: nodes.b.info.port, slotName: 'node_a' });
    await expect(runtime.follow(b, await upstream(a), 'node_b')).rejects.toThrow(/is a leader, not a standby/);
  });

  it('repoints a running standby to the new leader, which it then streams from', async () => {
    const [b, c] = [nodes.b.info.nodeId, nodes.c.info.nodeId];
    await runtime.repoint(c, await upstream(b), 'node_c');
    const receiver = await eventually(
      async () => (await nodeStatus(await runtime.endpoint(c))).receiver,
      (r) => r?.senderPort === nodes.b.info.port && r.status === 'streaming',
    );
    expect(receiver).toMatchObject({ slotName: 'node_c' });
    const standbys = await eventually(
      () => standbysOf(b),
      (r) => streaming(r) === 2,
    );
    expect(standbys.map((s) => [s.application_name, s.ssl])).toEqual([
      ['node_a', true],
      ['node_c', true],
    ]);
    await sql(b, "INSERT INTO items VALUES (3, 'repointed')");
    expect(
      await eventually(
        () => sql<{ id: number }>(c, 'SELECT id FROM items ORDER BY id'),
        (r) => r.length === 3,
      ),
    ).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
    await expect(runtime.repoint(b, await upstream(c), 'node_b')).rejects.toThrow(/is a leader, not a standby/);
  });

  it('fails over: standbys detached, one promoted, the crashed old leader rewound to follow it', async () => {
    const [a, b, c] = [nodes.a.info.nodeId, nodes.b.info.nodeId, nodes.c.info.nodeId];
    // The fence: both standbys of b stop receiving, and say how far they got.
    const detached = await Promise.all([runtime.detach(a), runtime.detach(c)]);
    for (const d of detached) expect(d.receivedLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(await sql(c, 'SELECT count(*)::int AS n FROM pg_stat_wal_receiver')).toEqual([{ n: 0 }]);
    await expect(runtime.detach(b)).rejects.toThrow(/is a leader, not a standby/);
    // b goes on alone (asynchronous): its row 4 reaches nobody, so b's history diverges from c's.
    await sql(b, "INSERT INTO items VALUES (4, 'diverged')");
    await new Promise((r) => setTimeout(r, 300));
    expect(await sql(c, 'SELECT count(*)::int AS n FROM pg_stat_wal_receiver')).toEqual([{ n: 0 }]);
    await runtime.promote(c);
    await sql(c, "INSERT INTO items VALUES (5, 'new leader')");
    await runtime.kill9(b);

    await expect(runtime.rewind(a, c)).rejects.toThrow(/runs: stop it before a rewind/);
    await runtime.rewind(b, c);
    await sql(c, "SELECT pg_create_physical_replication_slot('node_b')");
    await runtime.follow(b, await upstream(c), 'node_b');
    await runtime.start(b);
    const rows = await eventually(
      () => sql<{ id: number }>(b, 'SELECT id FROM items ORDER BY id'),
      (r) => r.some((x) => x.id === 5),
    );
    expect(rows).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 5 }]);
    // It kept its own configuration: its port, its name and its certificate.
    expect(await sql(b, "SELECT current_setting('port')::int AS p, current_setting('cluster_name') AS n")).toEqual([
      { p: nodes.b.info.port, n: 'node_b' },
    ]);
    const status = await nodeStatus(await runtime.endpoint(b));
    expect(status).toMatchObject({ inRecovery: true, timeline: 3, receiver: { status: 'streaming' } });
  });
});
