import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamIds } from '@pgfleet/contracts';
import { createPostgresEventStore, type PostgresEventStore } from '@pgfleet/eventstore';
import { createLogger } from '@pgfleet/kit';
import { certInfo, freePort, nodeSocketDir, openSecretStore, ownedTempDir, startLocalServer, verifyCert, withClient, type LocalServer } from '@pgfleet/postgres';
import { createProcessRuntime, type NodeRuntime } from '@pgfleet/runtime';
import { createCluster, deleteCluster } from '../commands.js';
import { foldCluster } from '../domain/cluster.js';
import { clusterTlsDir } from './nodeTls.js';
import { reconcileCluster } from './reconcile.js';
import { switchoverCluster } from './switchover.js';

let server: LocalServer;
let store: PostgresEventStore;
let home: string;
let runtime: NodeRuntime;
const log = createLogger('provisioning-test', 'error');

beforeAll(async () => {
  home = await ownedTempDir('pgfleet-tls-');
  server = await startLocalServer({ dataDir: join(home, 'store'), port: await freePort(), settings: { fsync: 'off' } });
  store = createPostgresEventStore({ connectionString: server.url() });
  runtime = createProcessRuntime({ home });
});
afterAll(async () => {
  await store?.close();
  await server?.stop('immediate');
  rmSync(home, { recursive: true, force: true });
});

describe('nodes get TLS from the start', () => {
  it('a Business cluster: a CA, node certificates for the gateway names, ssl on, both replication connections over TLS with verify-full; a switchover keeps it so', async () => {
    const secrets = openSecretStore(home);
    const created = await createCluster({ store, secrets }, { name: 'secure', plan: 'business-1024', version: 15, accountId: 'acme' }, {});
    expect(created.ok).toBe(true);
    const clusterId = (created as unknown as { result: { clusterId: string } }).result.clusterId;
    try {
      await reconcileCluster({ store, runtime, secrets, log, home }, clusterId);
      const state = foldCluster((await store.readStream(streamIds.cluster(clusterId))).events);
      expect(state.status, JSON.stringify(state.nodes)).toBe('ready');

      const caFile = join(clusterTlsDir(home, clusterId), 'ca.crt');
      const leaderCert = join(clusterTlsDir(home, clusterId), 'nodes', state.leader!, 'server.crt');
      const info = certInfo(leaderCert);
      expect(info.ipAddresses).toContain('127.0.0.1');
      expect(info.dnsNames).toEqual(expect.arrayContaining(['localhost', `gw-${clusterId}.pgfleet.local`]));
      expect((await verifyCert(caFile, leaderCert)).ok).toBe(true);

      const leader = state.nodes.find((n) => n.nodeId === state.leader)!;
      const target = { host: nodeSocketDir(leader.dataDir!), port: leader.port!, user: 'postgres', database: 'postgres' };
      const rows = await withClient(target, async (q) => (await q.query<{ ssl: boolean; application_name: string }>(
        `SELECT s.ssl, a.application_name FROM pg_stat_replication a JOIN pg_stat_ssl s ON s.pid = a.pid`)).rows);
      expect(rows).toHaveLength(2);
      expect(rows.every((r) => r.ssl)).toBe(true);
      for (const f of state.nodes.filter((n) => n.nodeId !== state.leader)) {
        const conninfo = await withClient({ ...target, host: nodeSocketDir(f.dataDir!), port: f.port! }, async (q) =>
          (await q.query<{ c: string }>(`SELECT conninfo AS c FROM pg_stat_wal_receiver`)).rows[0]!.c);
        expect(conninfo).toContain('sslmode=verify-full');
      }

      // Switchover to node3: the old leader follows the new one, every replication connection over TLS, writes go on.
      const reply = await switchoverCluster({ store, runtime, secrets, log, home }, { clusterId, to: 'node3' }, {});
      expect(reply, JSON.stringify(reply)).toMatchObject({ ok: true, result: { from: 'node1', to: 'node3', timeline: 2 } });
      const moved = foldCluster((await store.readStream(streamIds.cluster(clusterId))).events);
      expect(moved.leader).toBe('node3');
      const sockOf = (id: string) => { const n = moved.nodes.find((x) => x.nodeId === id)!; return { host: nodeSocketDir(n.dataDir!), port: n.port!, user: 'postgres', database: 'postgres' }; };
      await withClient(sockOf('node3'), async (q) => {
        expect((await q.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r).toBe(false);
        await q.query('CREATE TABLE after_switch(v int); INSERT INTO after_switch VALUES (42)');
        const repl = (await q.query<{ ssl: boolean; sync_state: string }>('SELECT s.ssl, a.sync_state FROM pg_stat_replication a JOIN pg_stat_ssl s ON s.pid = a.pid')).rows;
        expect(repl).toHaveLength(2);
        expect(repl.every((r) => r.ssl)).toBe(true);
        expect(repl.map((r) => r.sync_state).sort()).toEqual(['quorum', 'quorum']);
      });
      for (const id of ['node1', 'node2']) {
        const seen = async () => withClient(sockOf(id), async (q) => (await q.query('SELECT v FROM after_switch')).rows.length).catch(() => 0);
        for (let i = 0; i < 100 && (await seen()) !== 1; i++) await new Promise((r) => setTimeout(r, 100));
        expect(await seen()).toBe(1);
        expect(await withClient(sockOf(id), async (q) => (await q.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r)).toBe(true);
      }
      // Bad arguments: a clear code, nothing recorded.
      const versionBefore = moved.version_;
      expect(await switchoverCluster({ store, runtime, secrets, log, home }, { clusterId, to: 'node3' }, {})).toMatchObject({ ok: false, code: 'ALREADY_LEADER' });
      expect(await switchoverCluster({ store, runtime, secrets, log, home }, { clusterId, to: 'node7' }, {})).toMatchObject({ ok: false, code: 'UNKNOWN_NODE' });
      expect((await store.readStream(streamIds.cluster(clusterId))).currentVersion).toBe(versionBefore);
    } finally {
      await deleteCluster({ store, secrets }, { clusterId }, {});
      await reconcileCluster({ store, runtime, secrets, log, home }, clusterId);
    }
  });
});
