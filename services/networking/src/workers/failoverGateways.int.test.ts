import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamIds, type DomainEvent } from '@pgfleet/contracts';
import { createPostgresEventStore, type PostgresEventStore } from '@pgfleet/eventstore';
import { createHaproxyGateways, type GatewayAgent } from '@pgfleet/gateway';
import { createLogger } from '@pgfleet/kit';
import { freePort, ownedTempDir, startLocalServer, type LocalServer } from '@pgfleet/postgres';
import { reconcileGateways } from './reconcileGateways.js';

let pgHome: string;
let home: string;
let storeServer: LocalServer;
let store: PostgresEventStore;
let agentServer: Server;
let agent: GatewayAgent;
/** The questions HAProxy asked the agent (it answers `up` to all). */
const asked = new Set<string>();
const nodes = new Map<string, LocalServer>();
const log = createLogger('networking-test', 'silent');
const clusterId = 'shop-0001';
const gateways = () => createHaproxyGateways({ home });
/** The service's dependencies; `withAgent` as when PGFLEET_HA_AGENT is set. */
const deps = (withAgent = false) => ({ store, gateways: gateways(), log, ...(withAgent ? { agent } : {}) });
const portOf = (nodeId: string) => nodes.get(nodeId)!.port;

beforeAll(async () => {
  pgHome = await ownedTempDir('pgfleet-netfo-');
  home = await mkdtemp(join(tmpdir(), 'pgfleet-gwfo-'));
  const settings = { fsync: 'off' };
  storeServer = await startLocalServer({ dataDir: join(pgHome, 'store'), port: await freePort(), settings });
  store = createPostgresEventStore({ connectionString: storeServer.url() });
  for (const n of ['node1', 'node2', 'node3']) {
    nodes.set(n, await startLocalServer({ dataDir: join(pgHome, n), port: await freePort(), settings }));
  }
  agentServer = createServer((s) => {
    s.on('error', () => undefined);
    s.setEncoding('utf8');
    s.once('data', (d: string) => {
      asked.add(d.split('\n')[0]!);
      s.end('up\n');
    });
  });
  await new Promise<void>((resolve) => agentServer.listen(0, '127.0.0.1', resolve));
  const address = agentServer.address();
  agent = { host: '127.0.0.1', port: typeof address === 'object' && address ? address.port : 0 };
});

afterAll(async () => {
  for (const g of ['gw1', 'gw2'])
    await gateways()
      .remove(clusterId, g)
      .catch(() => undefined);
  await new Promise((r) => agentServer?.close(r));
  await store?.close();
  for (const n of nodes.values()) await n.stop('immediate');
  await storeServer?.stop('immediate');
  await rm(pgHome, { recursive: true, force: true });
  await rm(home, { recursive: true, force: true });
});

const append = (...events: DomainEvent[]) => store.appendToStream(streamIds.cluster(clusterId), events);
const gatewayEvents = async () => (await store.readStream(streamIds.gateway(clusterId))).events;

/** The port of the node a fresh connection through `port` lands on; rejects when the gateway forwards nowhere. */
async function landsOn(port: number): Promise<number> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: 3000,
  });
  await c.connect();
  try {
    return Number((await c.query<{ p: string }>("SELECT current_setting('port') AS p")).rows[0]!.p);
  } finally {
    await c.end();
  }
}

/** Where `count` fresh connections through `port` land. */
async function spread(port: number, count: number): Promise<Set<number>> {
  const seen = new Set<number>();
  for (let i = 0; i < count; i++) seen.add(await landsOn(port));
  return seen;
}

/** A session held through the gateway, with the node it reached. */
async function hold(port: number): Promise<{ client: pg.Client; on: number }> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  client.on('error', () => undefined);
  await client.connect();
  return { client, on: Number((await client.query<{ port: string }>('SHOW port')).rows[0]!.port) };
}

/** The write and read-only ports every gateway recorded. */
async function recordedPorts(): Promise<{ rw: number; ro: number }> {
  const started = (await gatewayEvents()).filter((e) => e.type === 'GatewayStarted');
  const data = started.map((e) => e.data as { port: number; readOnlyPort?: number });
  return { rw: data.at(-1)!.port, ro: data.at(-1)!.readOnlyPort! };
}

/** The lines of one backend's servers in a gateway's rendered config. */
function serverLines(gatewayId: string, backend: 'be_pg' | 'be_ro'): string[] {
  const cfg = readFileSync(gateways().files(clusterId, gatewayId).config, 'utf8');
  const section = cfg.split(/\n(?=backend |frontend )/).find((s) => s.startsWith(`backend ${backend}`))!;
  return section.split('\n').filter((l) => l.startsWith('  server '));
}
const enabledIn = (gatewayId: string, backend: 'be_pg' | 'be_ro') =>
  serverLines(gatewayId, backend)
    .filter((l) => !l.endsWith(' disabled'))
    .map((l) => l.split(' ')[3]);

describe(
  "a failover through a Business cluster's two gateways: fenced at once, kept out, the followers served read-only " +
    '(real HAProxy, real PostgreSQL)',
  () => {
    it('ClusterReady: writes reach the leader, the read-only port (recorded) spreads over both followers', async () => {
      await append(
        {
          type: 'ClusterRequested',
          data: {
            clusterId,
            name: 'shop',
            accountId: 'acme',
            plan: 'business-1024',
            version: 15,
            secretRef: 'ref',
            nodes: [
              { nodeId: 'node1', role: 'leader' },
              { nodeId: 'node2', role: 'follower' },
              { nodeId: 'node3', role: 'follower' },
            ],
          },
        },
        ...['node1', 'node2', 'node3'].map(
          (nodeId): DomainEvent => ({
            type: 'NodeProvisioned',
            data: { nodeId, role: nodeId === 'node1' ? 'leader' : 'follower', port: portOf(nodeId) },
          }),
        ),
        {
          type: 'ClusterReady',
          data: { leader: 'node1', host: '127.0.0.1', port: portOf('node1'), database: 'app', user: 'app' },
        },
      );
      await reconcileGateways(deps(), clusterId);
      const events = await gatewayEvents();
      expect(events.map((e) => e.type)).toEqual(['GatewayStarted', 'GatewayStarted', 'GatewayLeaderSet']);
      const [a, b] = events.map((e) => e.data as { port: number; readOnlyPort?: number });
      expect(a!.readOnlyPort).toBeGreaterThan(0);
      expect(a!.readOnlyPort).not.toBe(a!.port);
      expect(b).toMatchObject({ port: a!.port, readOnlyPort: a!.readOnlyPort });
      const { rw, ro } = await recordedPorts();
      expect(await spread(rw, 4)).toEqual(new Set([portOf('node1')]));
      expect(await spread(ro, 8)).toEqual(new Set([portOf('node2'), portOf('node3')]));
      for (const g of ['gw1', 'gw2']) {
        expect(enabledIn(g, 'be_pg')).toEqual(['node1']);
        expect(enabledIn(g, 'be_ro')).toEqual(['node2', 'node3']);
      }
    });

    it(
      'FailoverStarted: both gateways take the old leader out at once and cut its sessions; nobody takes writes, ' +
        'reads go on; GatewayNodeFenced is recorded',
      async () => {
        const { rw, ro } = await recordedPorts();
        const onLeader = await hold(rw);
        const onFollower = await hold(ro);
        expect(onLeader.on).toBe(portOf('node1'));
        const before = (await gatewayEvents()).length;
        let cutAt = 0;
        onLeader.client.on('end', () => (cutAt = Date.now()));
        await append({
          type: 'FailoverStarted',
          data: { operationId: 'op-1', term: 1, from: 'node1', reason: 'leader lost' },
        });
        const t0 = Date.now();
        await reconcileGateways(deps(), clusterId);
        const reconciled = Date.now() - t0;
        await expect(onLeader.client.query('SELECT 1')).rejects.toThrow();
        console.log(
          `FailoverStarted: the session on the fenced leader was cut ${cutAt - t0} ms into the reconciliation ` +
            `(the whole reconciliation, records included, took ${reconciled} ms)`,
        );
        for (let i = 0; i < 4; i++) await expect(landsOn(rw)).rejects.toThrow();
        expect(await onFollower.client.query('SELECT 1')).toBeTruthy();
        expect(await spread(ro, 6)).toEqual(new Set([portOf('node2'), portOf('node3')]));
        const recorded = (await gatewayEvents()).slice(before);
        expect(recorded.map((e) => [e.type, e.data])).toEqual([
          ['GatewayNodeFenced', { nodeId: 'node1', term: 1, gatewayIds: ['gw1', 'gw2'] }],
        ]);
        for (const g of ['gw1', 'gw2']) {
          expect(enabledIn(g, 'be_pg')).toEqual([]);
          expect(enabledIn(g, 'be_ro')).toEqual(['node2', 'node3']);
        }
        await onLeader.client.end().catch(() => undefined);
        await onFollower.client.end();
      },
    );

    it(
      'the fenced node stays out across a restart of the service, a gateway killed and started again, and a ' +
        'reload to a new config (the HA agent added)',
      async () => {
        const { rw, ro } = await recordedPorts();
        const count = (await gatewayEvents()).length;
        await gateways().kill9(clusterId, 'gw1');
        // A restarted service reconciles every cluster with live gateways: same history, same decision.
        await reconcileGateways(deps(), clusterId);
        expect((await gateways().status(clusterId, 'gw1')).state).toBe('running');
        for (let i = 0; i < 4; i++) await expect(landsOn(rw)).rejects.toThrow();
        // PGFLEET_HA_AGENT set: every server line changes, both gateways reload.
        await reconcileGateways(deps(true), clusterId);
        for (const g of ['gw1', 'gw2']) {
          expect(serverLines(g, 'be_pg').every((l) => l.includes(` agent-port ${agent.port} `))).toBe(true);
          expect(enabledIn(g, 'be_pg')).toEqual([]);
          expect(enabledIn(g, 'be_ro')).toEqual(['node2', 'node3']);
        }
        for (let i = 0; i < 4; i++) await expect(landsOn(rw)).rejects.toThrow();
        expect(await spread(ro, 6)).toEqual(new Set([portOf('node2'), portOf('node3')]));
        expect(await gatewayEvents()).toHaveLength(count);
      },
    );

    it(
      'LeaderChanged of the failover: writes reach the new leader at once, which leaves the read-only endpoint; ' +
        'the fenced node stays out of both',
      async () => {
        const { rw, ro } = await recordedPorts();
        const reads = [await hold(ro), await hold(ro)];
        await append({
          type: 'LeaderChanged',
          data: { from: 'node1', to: 'node2', reason: 'failover', timeline: 2, term: 1 },
        });
        await reconcileGateways(deps(true), clusterId);
        expect(await spread(rw, 4)).toEqual(new Set([portOf('node2')]));
        expect(await spread(ro, 4)).toEqual(new Set([portOf('node3')]));
        // The read session on the new leader was cut; the one on node3 carries on.
        for (const r of reads) {
          if (r.on === portOf('node2')) await expect(r.client.query('SELECT 1')).rejects.toThrow();
          else expect(await r.client.query('SELECT 1')).toBeTruthy();
          await r.client.end().catch(() => undefined);
        }
        expect((await gatewayEvents()).at(-1)).toMatchObject({ type: 'GatewayLeaderSet', data: { leader: 'node2' } });
        for (const g of ['gw1', 'gw2']) {
          expect(enabledIn(g, 'be_pg')).toEqual(['node2']);
          expect(enabledIn(g, 'be_ro')).toEqual(['node3']);
        }
      },
    );

    it('NodeRejoined: the old leader serves reads again, never writes; GatewayNodeUnfenced is recorded', async () => {
      const { rw, ro } = await recordedPorts();
      await append({ type: 'NodeRejoined', data: { nodeId: 'node1', leader: 'node2', method: 'rewind' } });
      await reconcileGateways(deps(true), clusterId);
      expect(await spread(ro, 8)).toEqual(new Set([portOf('node1'), portOf('node3')]));
      expect(await spread(rw, 4)).toEqual(new Set([portOf('node2')]));
      expect((await gatewayEvents()).at(-1)).toMatchObject({
        type: 'GatewayNodeUnfenced',
        data: { nodeId: 'node1', gatewayIds: ['gw1', 'gw2'] },
      });
      // HAProxy asks the HA agent about every server of both backends (every 500 ms).
      const questions = ['node1', 'node2', 'node3'].flatMap((n) => [`${clusterId} ${n} rw`, `${clusterId} ${n} ro`]);
      const deadline = Date.now() + 10_000;
      while (!questions.every((q) => asked.has(q)) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect([...asked].sort()).toEqual(questions.sort());
    });
  },
);
