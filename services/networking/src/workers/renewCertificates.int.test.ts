import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPlan, foldClusterView, runtimeNodeId, streamIds, type DomainEvent } from '@pgfleet/contracts';
import { createPostgresEventStore, type PostgresEventStore } from '@pgfleet/eventstore';
import { createLogger, executeOperation } from '@pgfleet/kit';
import {
  certInfo,
  clusterTlsDir,
  createReplicationRole,
  ensureClusterTls,
  freePort,
  generatePassword,
  nodeTlsFiles,
  ownedTempDir,
  startLocalServer,
  withClient,
  type LocalServer,
} from '@pgfleet/postgres';
import { createProcessRuntime, type NodeRuntime } from '@pgfleet/runtime';
import { networkingOperations } from '../operations/executors.js';
import { checkCertificates, type RenewalDeps } from './renewCertificates.js';

const DAY = 86_400_000;
const clusterId = 'renew-0001';
const nodeIds = ['node1', 'node2'] as const;
const plan = findPlan('starter-512')!;
const password = generatePassword();
const log = createLogger('networking-test', 'silent');
const ports: Record<string, number> = {};
let home: string;
let storeServer: LocalServer;
let store: PostgresEventStore;
let runtime: NodeRuntime;
const rid = (nodeId: string) => runtimeNodeId(clusterId, nodeId);
/** Node certificates of this test live one day; renewed when they end within two (the first check renews). */
const deps = (): RenewalDeps => ({ store, home, log, renewBeforeMs: 2 * DAY });
const rotate = () =>
  networkingOperations({ store, runtime, home, reconcile: async () => undefined, nodeCertDays: 365 })['certs-rotate'];
const execute = (operationId: string) => executeOperation({ store, log }, clusterId, operationId, rotate());
const notAfter = (nodeId: string) => certInfo(nodeTlsFiles(home, clusterId, nodeId).certFile).notAfter.getTime();
const onDisk = (nodeId: string) =>
  new X509Certificate(readFileSync(nodeTlsFiles(home, clusterId, nodeId).certFile)).fingerprint256;
const pidOf = async (nodeId: string) => (await runtime.status(rid(nodeId))).pid;
const sql = async <T extends pg.QueryResultRow>(nodeId: string, text: string) =>
  withClient(await runtime.endpoint(rid(nodeId)), async (q) => (await q.query<T>(text)).rows);

/** The fingerprint of the certificate the node presents now (PostgreSQL's SSLRequest, then TLS). */
function presented(nodeId: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: ports[nodeId]! }, () => {
      const sslRequest = Buffer.alloc(8);
      sslRequest.writeInt32BE(8, 0);
      sslRequest.writeInt32BE(80877103, 4);
      socket.write(sslRequest);
    });
    socket.once('error', reject);
    socket.once('data', () => {
      const secure = tlsConnect({ socket, rejectUnauthorized: false }, () => {
        resolve(secure.getPeerCertificate().fingerprint256);
        secure.destroy();
      });
      secure.once('error', reject);
    });
  });
}

async function eventually<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined && ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const streaming = () =>
  sql<{ state: string; ssl: boolean }>(
    'node1',
    'SELECT r.state, s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)',
  );

beforeAll(async () => {
  home = await ownedTempDir('pgfleet-renew-');
  storeServer = await startLocalServer({
    dataDir: join(home, 'store'),
    port: await freePort(),
    settings: { fsync: 'off' },
  });
  store = createPostgresEventStore({ connectionString: storeServer.url() });
  runtime = createProcessRuntime({ home });
  await ensureClusterTls(home, clusterId, nodeIds, { days: 1 });
  for (const nodeId of nodeIds) ports[nodeId] = await freePort();
  await runtime.create({ clusterId, nodeId: rid('node1'), major: 15, port: ports.node1! });
  await runtime.initialize(rid('node1'), { plan, tls: nodeTlsFiles(home, clusterId, 'node1') });
  await runtime.start(rid('node1'));
  await createReplicationRole(await runtime.endpoint(rid('node1')), { role: 'replicator', password });
  await sql('node1', 'CREATE TABLE t (n int)');
  await runtime.create({ clusterId, nodeId: rid('node2'), major: 15, port: ports.node2! });
  const leader = { ...(await runtime.peerAddress(rid('node1'))), user: 'replicator', password };
  const tls = nodeTlsFiles(home, clusterId, 'node2');
  await runtime.cloneFrom(rid('node2'), { plan, tls, leader, slotName: 'node2' });
  await runtime.start(rid('node2'));
  const events: DomainEvent[] = [
    {
      type: 'ClusterRequested',
      data: {
        clusterId,
        name: 'renew',
        accountId: 'acme',
        plan: plan.id,
        version: 15,
        secretRef: 'ref',
        nodes: [
          { nodeId: 'node1', role: 'leader' },
          { nodeId: 'node2', role: 'follower' },
        ],
      },
    },
    { type: 'NodeProvisioned', data: { nodeId: 'node1', role: 'leader', port: ports.node1! } },
    { type: 'NodeProvisioned', data: { nodeId: 'node2', role: 'follower', port: ports.node2! } },
    {
      type: 'ClusterReady',
      data: { leader: 'node1', host: '127.0.0.1', port: ports.node1!, database: 'app', user: 'app' },
    },
  ];
  await store.appendToStream(streamIds.cluster(clusterId), events);
});

afterAll(async () => {
  for (const nodeId of [...nodeIds].reverse()) await runtime?.remove(rid(nodeId)).catch(() => undefined);
  await store?.close();
  await storeServer?.stop('immediate');
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('node certificates renew themselves before they expire (real PostgreSQL, leader and follower)', () => {
  it(
    'a one-day certificate is renewed by the first check as a certs-rotate operation: same postmasters, ' +
      'a TLS session opened before keeps working, the follower streams again over verify-full',
    async () => {
      expect(notAfter('node1') - Date.now()).toBeLessThan(DAY + 60_000);
      await eventually('the follower to stream over TLS', streaming, (r) => r[0]?.state === 'streaming');
      const pids = { node1: await pidOf('node1'), node2: await pidOf('node2') };
      const ca = readFileSync(join(clusterTlsDir(home, clusterId), 'ca.crt'), 'utf8');
      const session = new pg.Client({
        host: '127.0.0.1',
        port: ports.node1!,
        user: 'replicator',
        password,
        database: 'postgres',
        ssl: { ca },
      });
      await session.connect();
      try {
        const plan = await checkCertificates(deps(), clusterId);
        expect(plan.renew?.nodes).toEqual(['node1', 'node2']);
        const operationId = plan.renew!.operationId;
        expect(await execute(operationId)).toBe('succeeded');

        for (const nodeId of nodeIds) {
          expect(notAfter(nodeId) - Date.now()).toBeGreaterThan(300 * DAY);
          await eventually(
            `${nodeId} to present its new certificate`,
            () => presented(nodeId),
            (f) => f === onDisk(nodeId),
          );
        }
        expect({ node1: await pidOf('node1'), node2: await pidOf('node2') }).toEqual(pids);
        const mine = await session.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
        expect(mine.rows).toEqual([{ ssl: true }]);

        // The follower reconnects (its walsender cut) and verifies the renewed certificate.
        await sql('node1', 'SELECT pg_terminate_backend(pid) FROM pg_stat_replication');
        await sql('node1', 'INSERT INTO t VALUES (42)');
        await eventually(
          'the row on the follower',
          () => sql<{ n: number }>('node2', 'SELECT n FROM t'),
          (r) => r.length === 1,
        );
        expect(await streaming()).toEqual([{ state: 'streaming', ssl: true }]);

        const gatewayEvents = (await store.readStream(streamIds.gateway(clusterId))).events;
        expect(gatewayEvents.filter((e) => e.type === 'CertificatesRotated')).toMatchObject([
          { data: { nodes: ['node1', 'node2'] }, correlationId: operationId },
        ]);
        const cluster = foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events);
        expect(cluster.ops.operations.map((o) => [o.operationId, o.kind, o.status])).toEqual([
          [operationId, 'certs-rotate', 'succeeded'],
        ]);
        // Renewed: the next check has nothing to do.
        expect(await checkCertificates(deps(), clusterId)).toEqual({ expiring: [] });
      } finally {
        await session.end();
      }
    },
  );

  it('a failed renewal: CertificateExpiring {clusterId, nodeId, notAfter, reason} once, then a retry', async () => {
    const due = { ...deps(), renewBeforeMs: 400 * DAY }; // every certificate is due
    await runtime.stop(rid('node2'), 'fast');
    let retry: string | undefined;
    try {
      const first = await checkCertificates(due, clusterId);
      expect(await execute(first.renew!.operationId)).toBe('failed');
      const second = await checkCertificates(due, clusterId);
      retry = second.renew?.operationId;
      expect(retry).toMatch(/-2$/);
      expect(await checkCertificates(due, clusterId)).toEqual({ expiring: [], running: second.renew!.operationId });
      const warnings = (await store.readStream(streamIds.gateway(clusterId))).events.filter(
        (e) => e.type === 'CertificateExpiring',
      );
      expect(warnings.map((e) => e.data)).toEqual(
        nodeIds.map((nodeId) => ({
          clusterId,
          nodeId,
          notAfter: new Date(notAfter(nodeId)).toISOString(),
          reason: expect.stringMatching(/failed at issue:node2: node node2 is stopped/),
        })),
      );
    } finally {
      await runtime.start(rid('node2'));
    }
    // The second attempt, once the node is back, renews it.
    expect(await execute(retry!)).toBe('succeeded');
  });
});
