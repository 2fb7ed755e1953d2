import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldClusterView, runtimeNodeId, streamIds, type CommandReply } from '@pgfleet/contracts';
import { createPostgresEventStore, type PostgresEventStore } from '@pgfleet/eventstore';
import { createLogger, executeOperation, loadOperation } from '@pgfleet/kit';
import {
  certInfo,
  clusterTlsDir,
  freePort,
  openSecretStore,
  ownedTempDir,
  startLocalServer,
  verifyCert,
  withClient,
  type LocalServer,
} from '@pgfleet/postgres';
import { createProcessRuntime, type NodeRuntime } from '@pgfleet/runtime';
import { createCluster, deleteCluster, switchoverCluster } from '../commands.js';
import { reconcileCluster } from './reconcile.js';
import { switchoverExecutor } from './switchover.js';

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

const clusterIdOf = (reply: CommandReply): string => {
  const id = reply.ok ? reply.result?.clusterId : undefined;
  if (typeof id !== 'string') throw new Error(`CreateCluster was not accepted: ${JSON.stringify(reply)}`);
  return id;
};

describe('nodes get TLS from the start', () => {
  it(
    'a Business cluster: a CA, node certificates for the gateway names, ssl on, both replication connections ' +
      'over TLS with verify-full; a switchover keeps it so',
    async () => {
      const secrets = openSecretStore(home);
      const deps = { store, runtime, secrets, log, home };
      const secure = { name: 'secure', plan: 'business-1024', version: 15, accountId: 'acme' } as const;
      const created = await createCluster({ store, secrets }, secure, {});
      expect(created.ok).toBe(true);
      const clusterId = clusterIdOf(created);
      const endpoint = (nodeId: string) => runtime.endpoint(runtimeNodeId(clusterId, nodeId));
      try {
        await reconcileCluster(deps, clusterId);
        const state = foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events);
        expect(state.status, JSON.stringify(state.nodes)).toBe('ready');

        const caFile = join(clusterTlsDir(home, clusterId), 'ca.crt');
        const leaderCert = join(clusterTlsDir(home, clusterId), 'nodes', state.leader!, 'server.crt');
        const info = certInfo(leaderCert);
        expect(info.ipAddresses).toContain('127.0.0.1');
        expect(info.dnsNames).toEqual(expect.arrayContaining(['localhost', `gw-${clusterId}.pgfleet.local`]));
        expect((await verifyCert(caFile, leaderCert)).ok).toBe(true);

        const rows = await withClient(
          await endpoint(state.leader!),
          async (q) =>
            (
              await q.query<{ ssl: boolean }>(
                'SELECT s.ssl, a.application_name FROM pg_stat_replication a JOIN pg_stat_ssl s ON s.pid = a.pid',
              )
            ).rows,
        );
        expect(rows).toHaveLength(2);
        expect(rows.every((r) => r.ssl)).toBe(true);
        for (const f of state.nodes.filter((n) => n.nodeId !== state.leader)) {
          const conninfo = await withClient(
            await endpoint(f.nodeId),
            async (q) => (await q.query<{ c: string }>(`SELECT conninfo AS c FROM pg_stat_wal_receiver`)).rows[0]!.c,
          );
          expect(conninfo).toContain('sslmode=verify-full');
        }

        // Switchover to node3: the old leader follows the new one, every replication connection over TLS, writes go on.
        const reply = await switchoverCluster(deps, { clusterId, to: 'node3' }, {});
        expect(reply, JSON.stringify(reply)).toMatchObject({ ok: true, result: { kind: 'switchover' } });
        const operationId = String(reply.ok && reply.result?.operationId);
        expect(await executeOperation(deps, clusterId, operationId, switchoverExecutor(deps))).toBe('succeeded');
        expect((await loadOperation(store, clusterId, operationId))?.result).toEqual({
          from: 'node1',
          to: 'node3',
          timeline: 2,
        });
        const moved = foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events);
        expect(moved.leader).toBe('node3');
        await withClient(await endpoint('node3'), async (q) => {
          expect((await q.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r).toBe(false);
          await q.query('CREATE TABLE after_switch(v int); INSERT INTO after_switch VALUES (42)');
          const repl = (
            await q.query<{ ssl: boolean; sync_state: string }>(
              'SELECT s.ssl, a.sync_state FROM pg_stat_replication a JOIN pg_stat_ssl s ON s.pid = a.pid',
            )
          ).rows;
          expect(repl).toHaveLength(2);
          expect(repl.every((r) => r.ssl)).toBe(true);
          expect(repl.map((r) => r.sync_state).sort()).toEqual(['quorum', 'quorum']);
        });
        for (const id of ['node1', 'node2']) {
          const target = await endpoint(id);
          const seen = async () =>
            withClient(target, async (q) => (await q.query('SELECT v FROM after_switch')).rows.length).catch(() => 0);
          for (let i = 0; i < 100 && (await seen()) !== 1; i++) await new Promise((r) => setTimeout(r, 100));
          expect(await seen()).toBe(1);
          const inRecovery = await withClient(
            target,
            async (q) => (await q.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r,
          );
          expect(inRecovery).toBe(true);
        }
        // Bad arguments: a clear code, nothing recorded.
        const versionBefore = moved.version_;
        expect(await switchoverCluster(deps, { clusterId, to: 'node3' }, {})).toMatchObject({
          ok: false,
          code: 'ALREADY_LEADER',
        });
        expect(await switchoverCluster(deps, { clusterId, to: 'node7' }, {})).toMatchObject({
          ok: false,
          code: 'UNKNOWN_NODE',
        });
        expect((await store.readStream(streamIds.cluster(clusterId))).currentVersion).toBe(versionBefore);
      } finally {
        await deleteCluster({ store, secrets }, { clusterId }, {});
        await reconcileCluster(deps, clusterId);
      }
    },
  );
});
