import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectBus,
  serveCommands,
  startNatsServer,
  startRelay,
  type CommandServer,
  type NatsServerHandle,
  type Relay,
} from '@pgfleet/bus';
import {
  foldClusterView,
  followersOf,
  querySubject,
  streamIds,
  uuidv7,
  type CommandMeta,
  type CommandReply,
} from '@pgfleet/contracts';
import { createPostgresEventStore, type PostgresEventStore } from '@pgfleet/eventstore';
import { freePort, ownedTempDir, startLocalServer, type LocalServer } from '@pgfleet/postgres';
import type { ClusterShown } from './clusterShown.js';
import { startApiServer } from './server.js';

/**
 * The HA routes and commands against real servers: PostgreSQL (the event store), NATS with the
 * relay, the API, and the CLI as a process. The `ha` service does not run here: a responder on
 * `pgfleet.commands.ha.*` stands for it (and one on provisioning's CreateCluster and ClusterStatus),
 * recording what it received and appending the events the service would append.
 */

const TOKEN = 'test-token';
/** The built CLI, as users and the e2e tests run it (`npm test` builds first). */
const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli.js');
const settings = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };

let dir: string;
let pg: LocalServer;
let store: PostgresEventStore;
let nats: NatsServerHandle;
let nc: NatsConnection;
let relay: Relay;
let api: Awaited<ReturnType<typeof startApiServer>>;
let ha: CommandServer | undefined;
let provisioning: CommandServer;
let status: Subscription;
const received: { command: string; data: Record<string, unknown>; meta: CommandMeta }[] = [];
const receivedOf = (command: string) => received.filter((r) => r.command === command);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const accepted = (streamId: string, version: number, result?: Record<string, unknown>): CommandReply => ({
  ok: true,
  streamId,
  version,
  ...(result ? { result } : {}),
});

/** What provisioning appends for a new cluster, ready at once (nodes on ports 7001...). */
async function createCluster(data: { name: string; plan: string; version: number; durability: string }) {
  const clusterId = `c-${data.name}`;
  const count = data.plan.startsWith('business') ? 3 : 1;
  const nodes = Array.from({ length: count }, (_, i) => ({
    nodeId: `node${i + 1}`,
    role: i === 0 ? ('leader' as const) : ('follower' as const),
  }));
  const requested = { ...data, clusterId, accountId: 'default', nodes, secretRef: `clusters/${clusterId}` };
  const ready = { leader: 'node1', host: '127.0.0.1', port: 5432, database: 'app', user: 'app' };
  const { nextExpectedVersion } = await store.appendToStream(streamIds.cluster(clusterId), [
    { type: 'ClusterRequested', data: requested },
    ...nodes.map((n, i) => ({ type: 'NodeProvisioned', data: { ...n, port: 7001 + i } })),
    { type: 'ClusterReady', data: ready },
    ...nodes.map((n) => ({ type: 'NodeHealthChanged', data: { nodeId: n.nodeId, health: 'healthy', timeline: 1 } })),
  ]);
  return accepted(streamIds.cluster(clusterId), nextExpectedVersion, { clusterId, name: data.name });
}

/**
 * What the HA service does for a failover: OperationRequested and FailoverStarted at once (the
 * reply carries the operation id), then the steps, the leader change, the end, and the gateways.
 */
async function failover(data: { clusterId: string; to?: string; acceptDataLoss: boolean }): Promise<CommandReply> {
  const streamId = streamIds.cluster(data.clusterId);
  const view = foldClusterView((await store.readStream(streamId)).events);
  const from = view.leader!;
  const to = data.to ?? followersOf(view)[0]!.nodeId;
  if (to === from) return { ok: false, code: 'ALREADY_LEADER', message: `${to} is already the leader` };
  const operationId = uuidv7();
  const term = view.term + 1;
  const params = { to, acceptDataLoss: data.acceptDataLoss };
  const { nextExpectedVersion } = await store.appendToStream(
    streamId,
    [
      { type: 'OperationRequested', data: { operationId, kind: 'failover', params } },
      { type: 'FailoverStarted', data: { operationId, term, from, reason: 'requested by the user' } },
    ],
    { expectedVersion: view.version_ },
  );
  void (async () => {
    const timeline = term + 1;
    // The old leader of the previous failover has rejoined by now (pg_rewind) and is healthy again.
    const rejoined = view.nodes.filter((n) => n.fenced && n.nodeId !== from);
    const { timeline: was } = view;
    const back = rejoined.flatMap((n) => [
      { type: 'NodeRejoined', data: { nodeId: n.nodeId, leader: from, method: 'rewind', timeline: was } },
      { type: 'NodeHealthChanged', data: { nodeId: n.nodeId, health: 'healthy', timeline: was } },
    ]);
    if (back.length > 0) await store.appendToStream(streamId, back);
    for (const step of ['fence', 'promote']) {
      await sleep(150);
      await store.appendToStream(streamId, [{ type: 'OperationStepCompleted', data: { operationId, step } }]);
    }
    await store.appendToStream(streamId, [
      { type: 'NodeHealthChanged', data: { nodeId: from, health: 'unreachable', reason: 'stopped' } },
      { type: 'LeaderChanged', data: { from, to, reason: 'failover', term, timeline } },
      { type: 'NodeHealthChanged', data: { nodeId: to, health: 'healthy', timeline } },
      { type: 'OperationSucceeded', data: { operationId, result: { from, to, term, timeline } } },
    ]);
    await sleep(150);
    const gateway = { type: 'GatewayLeaderSet', data: { leader: to, gatewayIds: ['gw1', 'gw2'] } };
    await store.appendToStream(streamIds.gateway(data.clusterId), [gateway]);
  })();
  // As the ha service answers: the operation id only (the API adds its kind).
  return accepted(streamId, nextExpectedVersion, { operationId });
}

async function setDurability(data: { clusterId: string; durability: string }): Promise<CommandReply> {
  const streamId = streamIds.cluster(data.clusterId);
  const { nextExpectedVersion } = await store.appendToStream(streamId, [
    { type: 'DurabilityChanged', data: { durability: data.durability } },
  ]);
  return accepted(streamId, nextExpectedVersion);
}

/** Provisioning's live node status: every node running, on the timeline of its last health record. */
function serveClusterStatus(): Subscription {
  return nc.subscribe(querySubject('provisioning', 'ClusterStatus'), {
    callback: async (_e, msg) => {
      const { clusterId } = msg.json<{ clusterId: string }>();
      const view = foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events);
      const nodes = view.nodes.map((n) => ({
        nodeId: n.nodeId,
        role: n.nodeId === view.leader ? 'leader' : 'follower',
        state: 'running',
        port: n.port,
        timeline: view.timeline ?? 1,
        lagBytes: n.nodeId === view.leader ? 0 : 2048,
      }));
      msg.respond(JSON.stringify({ nodes }));
    },
  });
}

beforeAll(async () => {
  assertBuilt();
  dir = await ownedTempDir('pgfleet-api-ha-');
  pg = await startLocalServer({ dataDir: join(dir, 'pg'), port: await freePort(), settings });
  store = createPostgresEventStore({ connectionString: pg.url() });
  await store.migrate();
  nats = await startNatsServer({ port: await freePort(), storeDir: join(dir, 'nats') });
  nc = await connectBus({ servers: nats.url, name: 'api-ha-test' });
  relay = startRelay({ store, js: jetstream(nc) });
  await relay.caughtUp();
  const record = (command: string, data: object, meta: CommandMeta) =>
    received.push({ command, data: { ...data }, meta });
  ha = serveCommands(nc, 'ha', {
    FailoverCluster: async (data, meta) => {
      record('FailoverCluster', data, meta);
      return failover(data);
    },
    SetClusterDurability: async (data, meta) => {
      record('SetClusterDurability', data, meta);
      return setDurability(data);
    },
  });
  provisioning = serveCommands(nc, 'provisioning', {
    CreateCluster: async (data, meta) => {
      record('CreateCluster', data, meta);
      return createCluster(data);
    },
  });
  status = serveClusterStatus();
  const home = await mkdtemp(join(dir, 'home-')); // removed with the test's directory
  api = await startApiServer({ port: await freePort(), token: TOKEN, store, nc, home });
});

afterAll(async () => {
  await api?.close();
  status?.unsubscribe();
  await ha?.stop();
  await provisioning?.stop();
  await relay?.stop();
  await nc?.close();
  await nats?.stop();
  await store?.close();
  await pg?.stop('immediate');
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function http<T = Record<string, unknown>>(method: string, path: string, body?: unknown, key?: string) {
  const res = await fetch(api.url + path, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(key ? { 'idempotency-key': key } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as T };
}

/** Refuse to test a CLI older than its sources (the CLI is run built, from dist). */
function assertBuilt(): void {
  const built = statSync(CLI, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const src = join(import.meta.dirname, '..');
  const sources = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter(
    (f) => f.endsWith('.ts') && !f.endsWith('.test.ts'),
  );
  const newer = sources.filter((f) => statSync(join(src, f)).mtimeMs > built);
  if (newer.length > 0) {
    throw new Error(`${CLI} is missing or older than ${newer[0]}: run "npm run build -w @pgfleet/api" first`);
  }
}

/** The built CLI, pointed at this API and NATS. */
function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    PGFLEET_HOME: join(dir, 'cli-home'),
    PGFLEET_API_URL: api.url,
    PGFLEET_API_TOKEN: TOKEN,
    PGFLEET_NATS_URL: nats.url,
  };
  const child = spawn(process.execPath, [CLI, ...args], { env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

async function operationDone(operationId: string) {
  for (let i = 0; i < 100; i++) {
    const op = await http('GET', `/v1/operations/${operationId}`);
    if (op.json.status !== 'running') return op.json;
    await sleep(100);
  }
  throw new Error(`operation ${operationId} still running`);
}

describe('HA routes and commands (ha service answered by a responder on pgfleet.commands.ha.*)', () => {
  it('create passes --durability through; a bad one is refused naming the field (HTTP) or flag (CLI)', async () => {
    const strict = await cli(
      'cluster',
      'create',
      'vault',
      '--plan',
      'business-1024',
      '--durability',
      'strict',
      '--no-wait',
      '--json',
    );
    expect(strict.code, strict.stderr).toBe(0);
    const plain = await cli('cluster', 'create', 'shop', '--plan', 'business-1024', '--no-wait', '--json');
    expect(plain.code, plain.stderr).toBe(0);
    expect(receivedOf('CreateCluster').map((r) => [r.data.name, r.data.durability])).toEqual([
      ['vault', 'strict'],
      ['shop', 'available'],
    ]);
    expect((await http('GET', '/v1/clusters/vault')).json.durability).toBe('strict');

    const bad = await http('POST', '/v1/clusters', { name: 'nope', plan: 'sandbox', durability: 'sometimes' });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'durability' } });
    const flag = await cli('cluster', 'create', 'nope', '--plan', 'sandbox', '--durability', 'sometimes');
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("option '--durability <mode>' argument 'sometimes' is invalid");
    expect(receivedOf('CreateCluster')).toHaveLength(2);
  });

  it('POST /v1/clusters/{name}/failover: ha.FailoverCluster, 202 {operationId}, once per Idempotency-Key', async () => {
    const first = await http('POST', '/v1/clusters/shop/failover', { to: 'node3', acceptDataLoss: true }, 'key-1');
    expect(first.status).toBe(202);
    expect(first.json).toMatchObject({ ok: true, kind: 'failover', clusterId: 'c-shop', streamId: 'cluster-c-shop' });
    expect(first.json.operationId).toEqual(expect.any(String));
    const [sent] = receivedOf('FailoverCluster');
    expect(sent).toMatchObject({
      data: { clusterId: 'c-shop', to: 'node3', acceptDataLoss: true },
      meta: { commandId: 'key-1', actor: { kind: 'admin', id: 'admin' } },
    });
    const again = await http('POST', '/v1/clusters/shop/failover', { to: 'node3', acceptDataLoss: true }, 'key-1');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.json).toEqual(first.json);
    expect(receivedOf('FailoverCluster')).toHaveLength(1);
    expect(await operationDone(String(first.json.operationId))).toMatchObject({
      kind: 'failover',
      status: 'succeeded',
    });

    for (const [body, field] of [
      [{ acceptDataLoss: 'yes' }, 'acceptDataLoss'],
      [{ to: 'Node 3!' }, 'to'],
    ] as const) {
      const r = await http('POST', '/v1/clusters/shop/failover', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json).toMatchObject({ code: 'VALIDATION_FAILED', details: { field } });
    }
    const unknown = await http('POST', '/v1/clusters/shop/failover', { force: true });
    expect(unknown).toMatchObject({ status: 400, json: { code: 'VALIDATION_FAILED' } });
    expect(unknown.json.message).toContain('force');
    expect((await http('POST', '/v1/clusters/ghost/failover', {})).json).toMatchObject({ code: 'CLUSTER_NOT_FOUND' });
    // The service's rejection comes back as is, with its HTTP status.
    const leader = await http('POST', '/v1/clusters/shop/failover', { to: 'node3' });
    expect(leader).toMatchObject({ status: 409, json: { code: 'ALREADY_LEADER' } });
    expect(receivedOf('FailoverCluster')).toHaveLength(2);
  });

  it('cluster failover follows the operation, prints its steps, ends once the gateway follows', async () => {
    const r = await cli('cluster', 'failover', 'shop', '--to', 'node2');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/operation \S+ \(failover\) started/);
    expect(r.stderr).toContain('FailoverStarted term 2, node3 fenced: requested by the user');
    expect(r.stderr).toContain('LeaderChanged node3 → node2 (failover, term 2)');
    expect(r.stderr).toMatch(/step fence done[\s\S]*step promote done[\s\S]*LeaderChanged[\s\S]*succeeded/);
    expect(r.stdout.trim()).toBe(
      'cluster shop: node2 is the leader after a failover (was node3, term 2, timeline 3); ' +
        'the gateway forwards to node2',
    );
    expect(receivedOf('FailoverCluster').at(-1)!.data).toEqual({
      clusterId: 'c-shop',
      to: 'node2',
      acceptDataLoss: false,
    });

    const noWait = await cli('cluster', 'failover', 'shop', '--no-wait', '--json');
    expect(noWait.code, noWait.stderr).toBe(0);
    const started = JSON.parse(noWait.stdout) as { operationId: string; kind: string };
    expect(started.kind).toBe('failover');
    expect(receivedOf('FailoverCluster').at(-1)!.data).toEqual({ clusterId: 'c-shop', acceptDataLoss: false });
    await operationDone(started.operationId);

    const json = await cli('cluster', 'failover', 'shop', '--to', 'node2', '--accept-data-loss', '--json');
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      kind: 'failover',
      result: { from: 'node1', to: 'node2', term: 4 },
      steps: [{ step: 'fence' }, { step: 'promote' }],
      gatewayLeader: 'node2',
    });
    const flag = await cli('cluster', 'failover', 'shop', '--to');
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("option '--to <node>' argument missing");
  });

  it('cluster durability: PUT …/durability → ha.SetClusterDurability; prints the new setting', async () => {
    const r = await cli('cluster', 'durability', 'shop', 'strict');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(
      'cluster shop: durability strict (with no follower in sync, writes wait until one is back)',
    );
    expect(receivedOf('SetClusterDurability').at(-1)!.data).toEqual({ clusterId: 'c-shop', durability: 'strict' });
    expect((await http('GET', '/v1/clusters/shop')).json.durability).toBe('strict');

    const json = await cli('cluster', 'durability', 'shop', 'available', '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: true,
      clusterId: 'c-shop',
      name: 'shop',
      durability: 'available',
    });
    expect((await http('GET', '/v1/clusters/shop')).json.durability).toBe('available');

    for (const body of [{ durability: 'sometimes' }, {}]) {
      const bad = await http('PUT', '/v1/clusters/shop/durability', body);
      expect(bad).toMatchObject({ status: 400, json: { code: 'VALIDATION_FAILED', details: { field: 'durability' } } });
    }
    const arg = await cli('cluster', 'durability', 'shop', 'sometimes');
    expect(arg.code).toBe(2);
    expect(arg.stderr).toContain("'sometimes' is invalid for argument 'mode'. Allowed choices are strict, available.");
    expect(receivedOf('SetClusterDurability')).toHaveLength(2);
  });

  it('show: durability, term, last failover, nodes recorded + live (as recorded when live is down)', async () => {
    const shown = (await http<ClusterShown>('GET', '/v1/clusters/shop')).json;
    expect(shown).toMatchObject({
      durability: 'available',
      synchronousReplication: true,
      term: 4,
      timeline: 5,
      syncDegradedAt: null,
      lastFailover: { term: 4, from: 'node1', to: 'node2', status: 'succeeded', reason: 'requested by the user' },
    });
    expect(shown.lastFailover!.durationMs).toBeGreaterThan(0);
    expect(shown.nodes).toEqual([
      expect.objectContaining({
        nodeId: 'node1',
        state: 'running',
        health: 'unreachable',
        fenced: true,
        replication: null,
      }),
      expect.objectContaining({ nodeId: 'node2', role: 'leader', health: 'healthy', lagBytes: 0, replication: null }),
      expect.objectContaining({
        nodeId: 'node3',
        health: 'healthy',
        fenced: false,
        lagBytes: 2048,
        replication: 'sync',
      }),
    ]);
    expect(shown.dataLossFailover).toBeNull();
    const text = await cli('cluster', 'show', 'shop');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('durability available, failover term 4, timeline 5');
    expect(text.stdout).toMatch(/last failover: term 4, node1 → node2 at \S+ \(requested by the user\), took/);
    expect(text.stdout).toMatch(/\nnode1 +follower +running +unreachable +7001 +5 +2\.0 KiB +yes\n/);
    expect(text.stdout).toMatch(/\nnode3 +follower +running +healthy +7003 +5 +2\.0 KiB +sync +no\n/);
    const json = JSON.parse((await cli('cluster', 'show', 'shop', '--json')).stdout) as ClusterShown;
    expect(json).toMatchObject({ term: 4, durability: 'available', lastFailover: { to: 'node2' } });

    status.unsubscribe();
    const recorded = (await http<ClusterShown>('GET', '/v1/clusters/shop')).json;
    expect(recorded.nodeStatusError).toMatch(/^node status unavailable/);
    expect(recorded.nodes.map((n) => [n.nodeId, n.state, n.health, n.fenced])).toEqual([
      ['node1', 'unknown', 'unreachable', true],
      ['node2', 'unknown', 'healthy', false],
      ['node3', 'unknown', 'healthy', false],
    ]);
    status = serveClusterStatus();
  });

  it('without an ha service the routes answer 503 SERVICE_UNAVAILABLE', async () => {
    await ha?.stop();
    ha = undefined;
    const r = await http('PUT', '/v1/clusters/shop/durability', { durability: 'strict' });
    expect(r).toMatchObject({ status: 503, json: { code: 'SERVICE_UNAVAILABLE' } });
    const f = await cli('cluster', 'failover', 'shop');
    expect(f.code).toBe(1);
    expect(f.stderr).toContain('error: no ha service is answering FailoverCluster commands');
  });
});
