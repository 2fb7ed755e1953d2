import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ownedTempDir, startLocalServer, type LocalServer } from '@pgfleet/postgres';
import { GatewayError } from './errors.js';
import { createHaproxyGateways, type GatewaySpec } from './haproxyProcess.js';

let home: string;
let pgDir: string;
let a: LocalServer;
let b: LocalServer;
let spec: GatewaySpec;
const gateways = () => createHaproxyGateways({ home });
const clients: pg.Client[] = [];

/** A pg client through the gateway; `closed` resolves when the gateway or server cuts it. */
async function connect(port: number) {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: 5000,
  });
  clients.push(client);
  const closed = new Promise<string>((resolve) => {
    client.on('error', (err) => resolve(err.message));
    client.on('end', () => resolve('end'));
  });
  await client.connect();
  return { client, closed };
}
const portOf = async (c: pg.Client) => Number((await c.query<{ port: string }>('SHOW port')).rows[0]?.port);

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'pgfleet-gw-'));
  pgDir = await ownedTempDir('pgfleet-gwpg-');
  [a, b] = await Promise.all([
    freePort().then((port) => startLocalServer({ dataDir: join(pgDir, 'a'), port })),
    freePort().then((port) => startLocalServer({ dataDir: join(pgDir, 'b'), port })),
  ]);
  spec = {
    clusterId: 'c1',
    gatewayId: 'gw-1',
    binds: [{ host: '127.0.0.1', port: await freePort() }],
    nodes: [
      { nodeId: 'a', host: '127.0.0.1', port: a.port },
      { nodeId: 'b', host: '127.0.0.1', port: b.port },
    ],
    leaderNodeId: 'a',
    check: { intervalMs: 500, fall: 2, rise: 1 },
  };
});

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.end()));
  await gateways()
    .remove('c1', 'gw-1')
    .catch(() => undefined);
  await Promise.allSettled([a?.stop('immediate'), b?.stop('immediate')]);
  await rm(home, { recursive: true, force: true });
  await rm(pgDir, { recursive: true, force: true });
});

describe('a real HAProxy gateway in front of two PostgreSQL servers', () => {
  const gatewayPort = () => spec.binds[0]!.port;

  it('starts once: a second start with the same config keeps the one process', async () => {
    const gw = gateways();
    const first = await gw.start(spec);
    expect(first.action).toBe('started');
    const again = await gw.start(spec);
    expect(again).toEqual({ pid: first.pid, action: 'unchanged' });
    const status = await gw.status('c1', 'gw-1');
    expect(status).toMatchObject({ state: 'running', pid: first.pid, drainingPids: [] });
    expect(status.files.dir).toBe(join(home, 'clusters', 'c1', 'gateways', 'gw-1'));
    expect(statSync(status.files.dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(home, 'clusters', 'c1')).mode & 0o005).toBe(0o005); // nodes of another OS user live beside it
  });

  it('routes connections to the leader only', async () => {
    for (let i = 0; i < 3; i++) {
      const { client } = await connect(gatewayPort());
      expect(await portOf(client)).toBe(a.port);
      await client.end();
    }
    const state = await gateways().runtimeApi('c1', 'gw-1').serversState();
    expect(state.map((s) => [s.server, s.admin])).toEqual([
      ['a', 'ready'],
      ['b', 'maint'],
    ]);
  });

  it('switches the leader at runtime: drain keeps sessions, maintenance cuts them, new leader never cut', async () => {
    const api = gateways().runtimeApi('c1', 'gw-1');
    const onA = await connect(gatewayPort());
    expect(await portOf(onA.client)).toBe(a.port);

    const keep = await api.switchLeader('b', { oldSessions: 'keep' });
    expect(keep.commands).toEqual(['set server be_pg/a state drain', 'set server be_pg/b state ready']);
    const onB = await connect(gatewayPort());
    expect(await portOf(onB.client)).toBe(b.port);
    expect(await portOf(onA.client)).toBe(a.port); // the open session to A carries on
    expect(await api.leader()).toBe('b');

    const cut = await api.switchLeader('b');
    expect(cut.commands).toEqual(['set server be_pg/a state maint']);
    expect(await onA.closed).toMatch(/terminated|end|ECONNRESET/i);
    expect(await portOf(onB.client)).toBe(b.port);

    expect((await api.switchLeader('b')).commands).toEqual([]); // re-asserting the leader is a no-op
    expect(await portOf(onB.client)).toBe(b.port);
    await onB.client.end();
  });

  it('refuses an unknown leader with a code', async () => {
    const err = await gateways()
      .runtimeApi('c1', 'gw-1')
      .switchLeader('zz')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('UNKNOWN_SERVER');
  });

  it('reloads seamlessly when the config changes: open sessions stay on the old process until they end', async () => {
    const gw = gateways();
    const before = await gw.status('c1', 'gw-1');
    const open = await connect(gatewayPort());
    expect(await portOf(open.client)).toBe(b.port);

    spec = { ...spec, leaderNodeId: 'b' };
    const reloaded = await gw.start(spec);
    expect(reloaded.action).toBe('reloaded');
    expect(reloaded.pid).not.toBe(before.pid);
    expect((await gw.status('c1', 'gw-1')).drainingPids).toEqual([before.pid]);

    expect(await portOf(open.client)).toBe(b.port); // not cut by the reload
    const fresh = await connect(gatewayPort());
    expect(await portOf(fresh.client)).toBe(b.port);
    expect((await gw.runtimeApi('c1', 'gw-1').serversState()).map((s) => [s.server, s.admin])).toEqual([
      ['a', 'maint'],
      ['b', 'ready'],
    ]);

    await open.client.end();
    await waitFor(async () => (await gw.status('c1', 'gw-1')).drainingPids.length === 0);
    await fresh.client.end();
  });

  it('rejects a config HAProxy cannot bind and keeps serving the previous one', async () => {
    const gw = gateways();
    const before = await gw.status('c1', 'gw-1');
    // A loopback port held by another listener (without SO_REUSEPORT) cannot be bound by HAProxy.
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const busy = (blocker.address() as { port: number }).port;
    const err = await gw
      .start({ ...spec, binds: [{ host: '127.0.0.1', port: busy }] })
      .catch((e: unknown) => e)
      .finally(() => blocker.close());
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toMatch(/HAPROXY_CONFIG_REJECTED|START_FAILED/);
    expect(readFileSync(before.files.config, 'utf8')).toContain(`bind 127.0.0.1:${gatewayPort()}`);
    const after = await gw.status('c1', 'gw-1');
    expect(after.pid).toBe(before.pid);
    const { client } = await connect(gatewayPort());
    expect(await portOf(client)).toBe(b.port);
    await client.end();
  });

  it('stops, is killed with -9, and starts again', async () => {
    const gw = gateways();
    await gw.stop('c1', 'gw-1');
    expect((await gw.status('c1', 'gw-1')).state).toBe('stopped');
    await expect(connect(gatewayPort())).rejects.toThrow();

    expect((await gw.start(spec)).action).toBe('started');
    const running = await gw.status('c1', 'gw-1');
    await gw.kill9('c1', 'gw-1');
    const killed = await gw.status('c1', 'gw-1');
    expect(killed.state).toBe('stopped');
    expect(killed.pid).toBeUndefined();

    const restarted = await gw.start(spec);
    expect(restarted.action).toBe('started');
    expect(restarted.pid).not.toBe(running.pid);
    const { client } = await connect(gatewayPort());
    expect(await portOf(client)).toBe(b.port);
    await client.end();
  });

  it('runs under a home too deep for its socket, the socket under /tmp, removed with the gateway', async () => {
    const deepHome = join(home, 'a-home-directory-deep-enough');
    const gw = createHaproxyGateways({ home: deepHome });
    const longId = 'orders-of-the-european-warehouses-eu-one-0f1e2d3c';
    const deep = { ...spec, clusterId: longId, binds: [{ host: '127.0.0.1', port: await freePort() }] };
    try {
      expect((await gw.start(deep)).action).toBe('started');
      const socket = gw.files(longId, 'gw-1').socket;
      expect(socket).toMatch(/^\/tmp\/pgfleet-gw\//);
      expect(await gw.runtimeApi(longId, 'gw-1').leader()).toBe('b');
      const { client } = await connect(deep.binds[0]!.port);
      expect(await portOf(client)).toBe(b.port);
      await client.end();
    } finally {
      await gw.remove(longId, 'gw-1');
    }
    expect(existsSync(gw.files(longId, 'gw-1').socket)).toBe(false);
  });
});
