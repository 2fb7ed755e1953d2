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
  it('a Business cluster: a CA, node certificates for the gateway names, ssl on, both replication connections over TLS with verify-full', async () => {
    const secrets = openSecretStore(home);
    const created = await createCluster({ store, secrets }, { name: 'secure', plan: 'business-1024', version: 15, accountId: 'acme' }, {});
    expect(created.ok).toBe(true);
    const clusterId = (created as { result: { clusterId: string } }).result.clusterId;
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
    } finally {
      await deleteCluster({ store, secrets }, { clusterId }, {});
      await reconcileCluster({ store, runtime, secrets, log, home }, clusterId);
    }
  });
});
