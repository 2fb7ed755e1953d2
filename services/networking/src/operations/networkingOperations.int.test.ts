import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  findPlan,
  foldClusterView,
  runtimeNodeId,
  streamIds,
  type CommandReply,
  type DomainEvent,
  type Operation,
} from '@pgfleet/contracts';
import { createPostgresEventStore, type PostgresEventStore } from '@pgfleet/eventstore';
import { createHaproxyGateways } from '@pgfleet/gateway';
import { createLogger, executeOperation, type OperationExecutor } from '@pgfleet/kit';
import {
  certInfo,
  clusterTlsDir,
  ensureClusterTls,
  freePort,
  nodeTlsFiles,
  ownedTempDir,
  startLocalServer,
  withClient,
  type LocalServer,
} from '@pgfleet/postgres';
import { createProcessRuntime, type NodeRuntime } from '@pgfleet/runtime';
import { exposeCluster, unexposeCluster } from '../commands/expose.js';
import { forceTls } from '../commands/forceTls.js';
import { rotateCertificates } from '../commands/rotateCertificates.js';
import { reconcileGateways } from '../workers/reconcileGateways.js';
import { networkingOperations, type NetworkingKind } from './executors.js';

let home: string;
let storeServer: LocalServer;
let store: PostgresEventStore;
let runtime: NodeRuntime;
const log = createLogger('networking-test', 'silent');
const clusterId = 'vault-0001';
const nodeIds = ['node1', 'node2'] as const;
const ports: Record<string, number> = {};
const plan = findPlan('starter-512')!;
/** The outside address of this test: on loopback too (Linux routes all of 127/8 there), so nothing is opened. */
const OUTSIDE = '127.0.0.2';
const APP = { user: 'app', password: 'app-secret', database: 'postgres' };
const gateways = () => createHaproxyGateways({ home });
const reconcile = (id: string) => reconcileGateways({ store, gateways: gateways(), log }, id);
const commandDeps = () => ({ store, exposeAddress: OUTSIDE });
const executors = () => networkingOperations({ store, runtime, home, reconcile });
const rid = (nodeId: string) => runtimeNodeId(clusterId, nodeId);

beforeAll(async () => {
  home = await ownedTempDir('pgfleet-netops-');
  const settings = { fsync: 'off' };
  storeServer = await startLocalServer({ dataDir: join(home, 'store'), port: await freePort(), settings });
  store = createPostgresEventStore({ connectionString: storeServer.url() });
  runtime = createProcessRuntime({ home });
  await ensureClusterTls(home, clusterId, nodeIds);
  for (const nodeId of nodeIds) {
    ports[nodeId] = await freePort();
    await runtime.create({ clusterId, nodeId: rid(nodeId), major: 15, port: ports[nodeId] });
    await runtime.initialize(rid(nodeId), { plan, tls: nodeTlsFiles(home, clusterId, nodeId) });
    await runtime.start(rid(nodeId));
    await withClient(await runtime.endpoint(rid(nodeId)), (q) =>
      q.query(`CREATE ROLE ${APP.user} LOGIN PASSWORD '${APP.password}'`),
    );
  }
});
afterAll(async () => {
  await gateways()
    .remove(clusterId, 'gw1')
    .catch(() => undefined);
  for (const nodeId of nodeIds) await runtime?.remove(rid(nodeId)).catch(() => undefined);
  await store?.close();
  await storeServer?.stop('immediate');
  rmSync(home, { recursive: true, force: true });
});

const append = (...events: DomainEvent[]) => store.appendToStream(streamIds.cluster(clusterId), events);
const clusterView = async (id = clusterId) => foldClusterView((await store.readStream(streamIds.cluster(id))).events);
const gatewayEvents = async () => (await store.readStream(streamIds.gateway(clusterId))).events;
const requestedCount = async () => (await clusterView()).ops.operations.length;

async function operation(operationId: string): Promise<Operation> {
  const op = (await clusterView()).ops.operations.find((o) => o.operationId === operationId);
  if (!op) throw new Error(`operation ${operationId} is not recorded`);
  return op;
}

/** The operation id of an accepted command that asked for an operation of `kind`. */
function operationIdOf(reply: CommandReply, kind: NetworkingKind): string {
  expect(reply, JSON.stringify(reply)).toMatchObject({ ok: true, result: { kind } });
  const id = reply.ok ? reply.result?.operationId : undefined;
  if (typeof id !== 'string') throw new Error(`no operation id in ${JSON.stringify(reply)}`);
  return id;
}

const execute = (operationId: string, executor: OperationExecutor) =>
  executeOperation({ store, log }, clusterId, operationId, executor);

/** Like a service killed right after the first step it completes: that step is recorded, the rest never runs. */
function killedAfterFirstStep(executor: OperationExecutor): OperationExecutor {
  let killed = false;
  return (run) =>
    executor({
      ...run,
      step: async <T extends Record<string, unknown> | undefined>(name: string, fn: () => Promise<T>) => {
        const detail = await run.step(name, fn);
        if (!killed) {
          killed = true;
          throw new Error(`killed after ${name}`);
        }
        return detail;
      },
    });
}

/** A TCP connection to `host:port` as the app role: plaintext, or TLS verified against the cluster CA. */
async function connectApp(host: string, port: number, tls: boolean): Promise<void> {
  const ca = readFileSync(join(clusterTlsDir(home, clusterId), 'ca.crt'), 'utf8');
  const client = new pg.Client({ host, port, ...APP, ssl: tls ? { ca } : false, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    const row = (await client.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'))
      .rows[0];
    if (tls) expect(row?.ssl).toBe(true);
  } finally {
    await client.end();
  }
}

/** The SHA-256 fingerprint of the certificate the node presents now (PostgreSQL's SSLRequest, then TLS). */
function presented(nodeId: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: ports[nodeId]! }, () => {
      const sslRequest = Buffer.alloc(8);
      sslRequest.writeInt32BE(8, 0);
      sslRequest.writeInt32BE(80877103, 4);
      socket.write(sslRequest);
    });
    socket.once('error', reject);
    socket.once('data', (answer) => {
      if (answer.toString() !== 'S') return reject(new Error(`${nodeId} does not speak TLS`));
      const secure = tlsConnect({ socket, rejectUnauthorized: false }, () => {
        resolve(secure.getPeerCertificate().fingerprint256);
        secure.destroy();
      });
      secure.once('error', reject);
    });
  });
}
/** The fingerprint of the certificate file the node is configured with. */
const onDisk = (nodeId: string) =>
  new X509Certificate(readFileSync(nodeTlsFiles(home, clusterId, nodeId).certFile)).fingerprint256;

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('TLS and external access run as resumable operations (real PostgreSQL, HAProxy)', () => {
  it(
    'ForceTls answers at once with a tls-force operation; a second request meanwhile is refused ' +
      'OPERATION_IN_PROGRESS; the operation configures every node then records TlsForced, and plaintext is refused',
    async () => {
      // Before the cluster exists, and while it is provisioning: the same rejections as before, nothing recorded.
      expect(await forceTls(commandDeps(), { clusterId }, {})).toMatchObject({ ok: false, code: 'CLUSTER_NOT_FOUND' });
      expect(await rotateCertificates(commandDeps(), { clusterId }, {})).toMatchObject({ code: 'CLUSTER_NOT_FOUND' });
      expect(await exposeCluster(commandDeps(), { clusterId }, {})).toMatchObject({ code: 'CLUSTER_NOT_FOUND' });
      expect(await unexposeCluster(commandDeps(), { clusterId }, {})).toMatchObject({ code: 'CLUSTER_NOT_FOUND' });
      await append(
        {
          type: 'ClusterRequested',
          data: {
            clusterId,
            name: 'vault',
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
      );
      expect(await forceTls(commandDeps(), { clusterId }, {})).toMatchObject({
        ok: false,
        code: 'NOT_READY',
        message: 'cluster vault is provisioning, not ready',
      });
      const ready = { leader: 'node1', host: '127.0.0.1', port: ports.node1!, database: 'app', user: 'app' };
      await append({ type: 'ClusterReady', data: ready });
      await reconcile(clusterId);
      expect((await gateways().status(clusterId, 'gw1')).state).toBe('running');
      // Exposing before TLS is forced: the same sentence as before, and no operation.
      expect(await exposeCluster(commandDeps(), { clusterId }, {})).toMatchObject({
        ok: false,
        code: 'TLS_NOT_FORCED',
        message: expect.stringContaining('cluster vault can be exposed only once TLS is forced'),
      });
      expect(await requestedCount()).toBe(0);
      await connectApp('127.0.0.1', ports.node1!, false); // plaintext still accepted

      const reply = await forceTls(commandDeps(), { clusterId }, { commandId: 'cli-force-1' });
      expect(reply).toMatchObject({ ok: true, streamId: streamIds.cluster(clusterId) });
      const operationId = operationIdOf(reply, 'tls-force');
      expect(await operation(operationId)).toMatchObject({
        kind: 'tls-force',
        status: 'running',
        params: { nodes: ['node1', 'node2'] },
        steps: [],
      });
      await connectApp('127.0.0.1', ports.node1!, false); // the command touched no node

      // One operation per cluster: any other request while it runs is refused, naming it.
      const inProgress = { ok: false, code: 'OPERATION_IN_PROGRESS', details: { operationId, kind: 'tls-force' } };
      expect(await forceTls(commandDeps(), { clusterId }, {})).toMatchObject(inProgress);
      expect(await rotateCertificates(commandDeps(), { clusterId }, {})).toMatchObject(inProgress);
      expect(await requestedCount()).toBe(1);

      expect(await execute(operationId, executors()['tls-force'])).toBe('succeeded');
      const done = await operation(operationId);
      expect(done).toMatchObject({ status: 'succeeded', result: { tlsForced: true, changed: true } });
      expect(done.steps.map((s) => s.step)).toEqual(['configure:node1', 'configure:node2', 'record']);
      const forced = (await gatewayEvents()).filter((e) => e.type === 'TlsForced');
      expect(forced).toHaveLength(1);
      expect(forced[0]).toMatchObject({ data: { nodes: ['node1', 'node2'] }, correlationId: operationId });
      for (const nodeId of nodeIds) {
        await expect(connectApp('127.0.0.1', ports[nodeId]!, false)).rejects.toThrow(/no encryption/);
        await connectApp('127.0.0.1', ports[nodeId]!, true);
      }
      // Running it again (a resumed service) does nothing more.
      expect(await execute(operationId, executors()['tls-force'])).toBe('skipped');

      // Forcing again: no operation, the same answer as before ("already forced").
      const again = await forceTls(commandDeps(), { clusterId }, {});
      expect(again).toMatchObject({ ok: true, result: { tlsForced: true, changed: false } });
      // The same request retried (same commandId) gets its operation back, not a new one.
      expect(await forceTls(commandDeps(), { clusterId }, { commandId: 'cli-force-1' })).toMatchObject({
        ok: true,
        result: { operationId, kind: 'tls-force' },
      });
      expect(await requestedCount()).toBe(1);
    },
  );

  it(
    'certs-rotate killed after its first step resumes from there: the issued certificate is kept, ' +
      'the other steps run once, every node presents its new certificate, the result is {nodes, notAfter}',
    async () => {
      const before = Object.fromEntries(await Promise.all(nodeIds.map(async (n) => [n, await presented(n)] as const)));
      for (const n of nodeIds) expect(before[n]).toBe(onDisk(n));
      const operationId = operationIdOf(await rotateCertificates(commandDeps(), { clusterId }, {}), 'certs-rotate');

      const rotate = executors()['certs-rotate'];
      await expect(execute(operationId, killedAfterFirstStep(rotate))).rejects.toThrow('killed after issue:node1');
      const interrupted = await operation(operationId);
      expect(interrupted).toMatchObject({ status: 'running', steps: [{ step: 'issue:node1' }] });
      const issuedBeforeCrash = onDisk('node1');
      expect(issuedBeforeCrash).not.toBe(before.node1);
      expect(onDisk('node2')).toBe(before.node2);

      expect(await execute(operationId, rotate)).toBe('succeeded');
      const done = await operation(operationId);
      expect(done.steps.map((s) => s.step)).toEqual([
        'issue:node1',
        'reload:node1',
        'issue:node2',
        'reload:node2',
        'record',
      ]);
      expect(onDisk('node1')).toBe(issuedBeforeCrash); // not issued a second time
      expect(done.result).toMatchObject({ nodes: ['node1', 'node2'], notAfter: expect.any(String) });
      const notAfter = new Date(String(done.result?.notAfter));
      expect(notAfter.getTime()).toBeGreaterThan(Date.now() + 300 * 86_400_000);
      for (const n of nodeIds) {
        await waitUntil(`${n} to present its new certificate`, async () => (await presented(n)) === onDisk(n));
        expect(onDisk(n)).not.toBe(before[n]);
        await connectApp('127.0.0.1', ports[n]!, true); // verify-full against the same CA
      }
      const rotated = (await gatewayEvents()).filter((e) => e.type === 'CertificatesRotated');
      expect(rotated).toHaveLength(1);
      expect(rotated[0]!.data).toEqual({ nodes: ['node1', 'node2'], notAfter: done.result?.notAfter });
    },
  );

  it(
    'expose then unexpose, each an operation: certificates name the outside address, ClusterExposed, ' +
      'the gateway listens there (verify-full through it); unexpose closes it; repeats start nothing',
    async () => {
      const port = (await gatewayEvents()).find((e) => e.type === 'GatewayStarted')!.data as { port: number };
      await expect(connectApp(OUTSIDE, port.port, true)).rejects.toThrow(/ECONNREFUSED/);
      const certNames = (nodeId: string) => certInfo(nodeTlsFiles(home, clusterId, nodeId).certFile).ipAddresses;
      for (const n of nodeIds) expect(certNames(n)).not.toContain(OUTSIDE);
      const exposeId = operationIdOf(await exposeCluster(commandDeps(), { clusterId }, {}), 'expose');
      expect(await operation(exposeId)).toMatchObject({ params: { address: OUTSIDE, nodes: ['node1', 'node2'] } });
      expect(await execute(exposeId, executors().expose)).toBe('succeeded');
      const exposed = await operation(exposeId);
      expect(exposed.steps.map((s) => s.step)).toEqual(['certificates', 'record', 'gateways']);
      expect(exposed.result).toEqual({ address: OUTSIDE, port: port.port, changed: true });
      expect((await gatewayEvents()).at(-1)).toMatchObject({
        type: 'ClusterExposed',
        data: { address: OUTSIDE, port: port.port },
      });
      for (const n of nodeIds) expect(certNames(n)).toEqual(['127.0.0.1', OUTSIDE]);
      await waitUntil(
        'node1 to present a certificate naming the outside address',
        async () => (await presented('node1')) === onDisk('node1'),
      );
      await connectApp(OUTSIDE, port.port, true); // through the gateway, the node's certificate verified for 127.0.0.2
      await connectApp('127.0.0.1', port.port, true); // loopback still served

      const again = await exposeCluster(commandDeps(), { clusterId }, {});
      expect(again).toMatchObject({ ok: true, result: { address: OUTSIDE, port: port.port, changed: false } });

      const unexposeId = operationIdOf(await unexposeCluster(commandDeps(), { clusterId }, {}), 'unexpose');
      expect(await execute(unexposeId, executors().unexpose)).toBe('succeeded');
      const closed = await operation(unexposeId);
      expect(closed.steps.map((s) => s.step)).toEqual(['record', 'gateways']);
      expect(closed.result).toEqual({ changed: true });
      expect((await gatewayEvents()).at(-1)).toMatchObject({ type: 'ClusterUnexposed' });
      await expect(connectApp(OUTSIDE, port.port, true)).rejects.toThrow(/ECONNREFUSED/);
      await connectApp('127.0.0.1', port.port, true);

      const count = await requestedCount();
      expect(await unexposeCluster(commandDeps(), { clusterId }, {})).toMatchObject({
        ok: true,
        result: { changed: false },
      });
      expect(await requestedCount()).toBe(count);
    },
  );

  it(
    "a stopped node: certs-rotate ends OperationFailed at that node's step with a reason naming it, " +
      'no node is touched, and the next operation may start',
    async () => {
      const before = Object.fromEntries(nodeIds.map((n) => [n, onDisk(n)]));
      await runtime.stop(rid('node2'), 'fast');
      try {
        const operationId = operationIdOf(await rotateCertificates(commandDeps(), { clusterId }, {}), 'certs-rotate');
        expect(await execute(operationId, executors()['certs-rotate'])).toBe('failed');
        expect(await operation(operationId)).toMatchObject({
          status: 'failed',
          failedStep: 'issue:node2',
          error: expect.stringMatching(/^node node2 is stopped: /),
          steps: [],
        });
        for (const n of nodeIds) expect(onDisk(n)).toBe(before[n]);
        expect((await gatewayEvents()).filter((e) => e.type === 'CertificatesRotated')).toHaveLength(1);
        expect((await clusterView()).ops.running).toBeUndefined();
      } finally {
        await runtime.start(rid('node2'));
      }
      const next = operationIdOf(await rotateCertificates(commandDeps(), { clusterId }, {}), 'certs-rotate');
      expect(await execute(next, executors()['certs-rotate'])).toBe('succeeded');
    },
  );
});
