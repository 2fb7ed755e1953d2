import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamIds, type DomainEvent } from '@pgfleet/contracts';
import { createPostgresEventStore, type PostgresEventStore } from '@pgfleet/eventstore';
import { createHaproxyGateways } from '@pgfleet/gateway';
import { createLogger } from '@pgfleet/kit';
import { freePort, ownedTempDir, startLocalServer, type LocalServer } from '@pgfleet/postgres';
import { GATEWAY_CLUSTER_TYPES, GatewayClusters } from '../projections/gatewayClusters.js';
import { reconcileGateways } from './reconcileGateways.js';

let pgHome: string;
let home: string;
let storeServer: LocalServer;
let store: PostgresEventStore;
const nodes: LocalServer[] = [];
const log = createLogger('networking-test', 'silent');
const clusterId = 'ledger-0001';
const gateways = () => createHaproxyGateways({ home });
const deps = () => ({ store, gateways: gateways(), log });

beforeAll(async () => {
  pgHome = await ownedTempDir('pgfleet-net-');
  home = await mkdtemp(join(tmpdir(), 'pgfleet-gw-'));
  const settings = { fsync: 'off' };
  storeServer = await startLocalServer({ dataDir: join(pgHome, 'store'), port: await freePort(), settings });
  store = createPostgresEventStore({ connectionString: storeServer.url() });
  for (const n of ['n1', 'n2']) {
    nodes.push(await startLocalServer({ dataDir: join(pgHome, n), port: await freePort(), settings }));
  }
});
afterAll(async () => {
  for (const g of ['gw1', 'gw2'])
    await gateways()
      .remove(clusterId, g)
      .catch(() => undefined);
  await store?.close();
  for (const n of nodes) await n.stop('immediate');
  await storeServer?.stop('immediate');
  await rm(pgHome, { recursive: true, force: true });
  await rm(home, { recursive: true, force: true });
});

const append = (...events: DomainEvent[]) => store.appendToStream(streamIds.cluster(clusterId), events);
const gatewayEvents = async () => (await store.readStream(streamIds.gateway(clusterId))).events;

/** Clusters with live gateways, as the service's projection sees them at a (re)start (fed from the beginning). */
async function clustersWithGateways(s: PostgresEventStore): Promise<string[]> {
  const clusters = new GatewayClusters();
  const sub = s.subscribe({
    subscriberId: 'networking-test',
    durable: false,
    types: GATEWAY_CLUSTER_TYPES,
    handler: (e) => clusters.apply(e),
  });
  await sub.caughtUp();
  await sub.stop();
  return clusters.list();
}

/** The port of the node a fresh connection through the gateway lands on. */
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

describe(
  "networking keeps a Business cluster's two gateways in step with its history " + '(real HAProxy, real PostgreSQL)',
  () => {
    it('ClusterReady starts two gateways on one address forwarding to the leader; again is a no-op', async () => {
      await append(
        {
          type: 'ClusterRequested',
          data: {
            clusterId,
            name: 'ledger',
            accountId: 'acme',
            plan: 'business-1024',
            version: 15,
            secretRef: 'ref',
            nodes: [
              { nodeId: 'node1', role: 'leader' },
              { nodeId: 'node2', role: 'follower' },
            ],
          },
        },
        { type: 'NodeProvisioned', data: { nodeId: 'node1', role: 'leader', port: nodes[0]!.port } },
        { type: 'NodeProvisioned', data: { nodeId: 'node2', role: 'follower', port: nodes[1]!.port } },
      );
      await reconcileGateways(deps(), clusterId);
      expect(await gatewayEvents()).toHaveLength(0);

      const ready = { leader: 'node1', host: '127.0.0.1', port: nodes[0]!.port, database: 'app', user: 'app' };
      await append({ type: 'ClusterReady', data: ready });
      await reconcileGateways(deps(), clusterId);
      const events = await gatewayEvents();
      expect(events.map((e) => e.type)).toEqual(['GatewayStarted', 'GatewayStarted', 'GatewayLeaderSet']);
      const [a, b] = events.map((e) => e.data as { gatewayId: string; host: string; port: number });
      expect(a!.gatewayId).toBe('gw1');
      expect(b!.gatewayId).toBe('gw2');
      expect(b!.port).toBe(a!.port);
      expect(a!.host).toBe('127.0.0.1');
      expect(events[2]!.data).toEqual({ leader: 'node1', gatewayIds: ['gw1', 'gw2'] });
      expect(events.every((e) => e.actor.id === 'networking')).toBe(true);
      for (const g of ['gw1', 'gw2']) expect((await gateways().status(clusterId, g)).state).toBe('running');
      for (let i = 0; i < 6; i++) expect(await landsOn(a!.port)).toBe(nodes[0]!.port);

      await reconcileGateways(deps(), clusterId);
      expect(await gatewayEvents()).toHaveLength(3);
      expect(await clustersWithGateways(store)).toContain(clusterId);
    });

    it('LeaderChanged moves both gateways to the new leader and cuts sessions to the old one', async () => {
      const port = ((await gatewayEvents())[0]!.data as { port: number }).port;
      const held = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
      await held.connect();
      held.on('error', () => undefined);
      const onPort = (await held.query<{ p: string }>("SELECT current_setting('port') AS p")).rows[0]!.p;
      expect(Number(onPort)).toBe(nodes[0]!.port);

      await append({ type: 'LeaderChanged', data: { from: 'node1', to: 'node2', reason: 'switchover' } });
      await reconcileGateways(deps(), clusterId);
      const events = await gatewayEvents();
      expect(events.at(-1)).toMatchObject({ type: 'GatewayLeaderSet', data: { leader: 'node2' } });
      for (let i = 0; i < 6; i++) expect(await landsOn(port)).toBe(nodes[1]!.port);
      // The session to the old leader was cut: the next query on it fails (the client reconnects).
      await expect(held.query('SELECT 1')).rejects.toThrow();
      await held.end().catch(() => undefined);
    });

    it(
      'a gateway killed with -9 is started again by the next reconciliation, ' +
        'on the same address, without new events',
      async () => {
        const before = await gatewayEvents();
        const port = (before[0]!.data as { port: number }).port;
        await gateways().kill9(clusterId, 'gw1');
        expect((await gateways().status(clusterId, 'gw1')).state).not.toBe('running');
        await reconcileGateways(deps(), clusterId);
        expect((await gateways().status(clusterId, 'gw1')).state).toBe('running');
        expect(await gatewayEvents()).toHaveLength(before.length);
        expect(await landsOn(port)).toBe(nodes[1]!.port);
      },
    );

    it('ClusterDeleted removes the gateways and records it once', async () => {
      const port = ((await gatewayEvents())[0]!.data as { port: number }).port;
      await append({ type: 'ClusterDeletionRequested', data: {} }, { type: 'ClusterDeleted', data: {} });
      await reconcileGateways(deps(), clusterId);
      await reconcileGateways(deps(), clusterId);
      const events = await gatewayEvents();
      expect(events.filter((e) => e.type === 'GatewaysRemoved')).toHaveLength(1);
      for (const g of ['gw1', 'gw2']) expect((await gateways().status(clusterId, g)).state).not.toBe('running');
      await expect(landsOn(port)).rejects.toThrow();
      expect(await clustersWithGateways(store)).not.toContain(clusterId);
    });
  },
);

describe('a reconciliation that cannot get there fails (real HAProxy)', () => {
  it('outcomes still refused after the last round: it throws, so its event is not acknowledged', async () => {
    const staleId = 'stale-0001';
    await store.appendToStream(streamIds.cluster(staleId), [
      {
        type: 'ClusterRequested',
        data: {
          clusterId: staleId,
          name: 'stale',
          accountId: 'acme',
          plan: 'starter-512',
          version: 15,
          secretRef: 'ref',
          nodes: [{ nodeId: 'node1', role: 'leader' }],
        },
      },
      { type: 'NodeProvisioned', data: { nodeId: 'node1', role: 'leader', port: nodes[0]!.port } },
      {
        type: 'ClusterReady',
        data: { leader: 'node1', host: '127.0.0.1', port: nodes[0]!.port, database: 'app', user: 'app' },
      },
    ]);
    // The gateway stream says its gateways were removed: every StartGateway is refused, round after round.
    await store.appendToStream(streamIds.gateway(staleId), [
      { type: 'GatewaysRemoved', data: { gatewayIds: ['gw1'] } },
    ]);
    try {
      await expect(reconcileGateways(deps(), staleId)).rejects.toThrow(
        'the gateways of cluster stale-0001 were not reconciled: their outcomes were refused 3 times',
      );
      expect((await store.readStream(streamIds.gateway(staleId))).events).toHaveLength(1);
    } finally {
      await gateways()
        .remove(staleId, 'gw1')
        .catch(() => undefined);
    }
  });
});
