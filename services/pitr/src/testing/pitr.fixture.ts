import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectBus, startNatsServer, startRelay, type NatsServerHandle, type Relay } from '@pgfleet/bus';
import {
  findPlan,
  querySubject,
  runtimeNodeId,
  streamIds,
  type DomainEvent,
  type EventEnvelope,
} from '@pgfleet/contracts';
import { createPostgresEventStore, type PostgresEventStore } from '@pgfleet/eventstore';
import { freePort, ownedTempDir, startLocalServer, withClient, type LocalServer } from '@pgfleet/postgres';
import { createProcessRuntime, type NodeRuntime } from '@pgfleet/runtime';

const MAIN = join(import.meta.dirname, '..', '..', 'dist', 'main.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Integration-test world of the pitr service: a real PostgreSQL holding the event store, a real
 * NATS with the relay publishing the store's events, real PostgreSQL 15 nodes made by the process
 * runtime with pgBackRest archiving into a repository of the test's own, and the pitr service as it
 * runs (its built entry point, a process). Cluster streams are written by hand (no provisioning).
 */
export interface PitrWorld {
  dir: string;
  /** The pgBackRest repository (PGFLEET_PITR_REPO). */
  repo: string;
  store: PostgresEventStore;
  nc: NatsConnection;
  runtime: NodeRuntime;
  /** ClusterRequested..ClusterReady of a one-node cluster; with `node`, a real node archiving to its stanza. */
  writeCluster(clusterId: string, planId: string, options?: { node: boolean }): Promise<void>;
  /** SQL as the superuser on a cluster's leader (node1). */
  sql<R extends Record<string, unknown>>(clusterId: string, text: string): Promise<R[]>;
  pitrEvents(clusterId: string): Promise<EventEnvelope[]>;
  /** Wait until the cluster's pitr stream has an event of `type` (after `after` events). */
  waitFor(clusterId: string, type: string, timeoutMs?: number, after?: number): Promise<EventEnvelope>;
  query(name: string, body: object): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startPitrWorld(env: Record<string, string> = {}): Promise<PitrWorld> {
  const dir = await ownedTempDir('pgfleet-pitr-');
  const home = join(dir, 'home');
  const repo = join(dir, 'repo');
  const runtime = createProcessRuntime({ home, archiveRepo: repo });
  const nodes: { id: string; stanza?: string }[] = [];
  let pg: LocalServer | undefined;
  let store: PostgresEventStore | undefined;
  let nats: NatsServerHandle | undefined;
  let nc: NatsConnection | undefined;
  let relay: Relay | undefined;
  let service: ChildProcess | undefined;
  const close = async () => {
    if (service && service.exitCode === null) {
      const exited = new Promise((r) => service!.once('exit', r));
      service.kill('SIGTERM');
      await exited;
    }
    await relay?.stop().catch(() => undefined);
    await nc?.close().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
    for (const n of nodes) {
      await runtime.remove(n.id).catch(() => undefined);
      if (n.stanza) await runtime.archive.remove(n.stanza).catch(() => undefined);
    }
    await store?.close().catch(() => undefined);
    await pg?.stop('immediate').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    pg = await startLocalServer({ dataDir: join(dir, 'store'), port: await freePort() });
    store = createPostgresEventStore({ connectionString: pg.url() });
    await store.migrate();
    nats = await startNatsServer({ port: await freePort(), storeDir: join(dir, 'nats') });
    nc = await connectBus({ servers: nats.url, name: 'pitr-test' });
    relay = startRelay({ store, js: jetstream(nc), idlePollMs: 100 });
    await relay.caughtUp();
    service = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        PGFLEET_HOME: home,
        PGFLEET_EVENTSTORE_URL: pg.url(),
        PGFLEET_NATS_URL: nats.url,
        PGFLEET_PITR_REPO: repo,
        PGFLEET_LOG_LEVEL: 'warn',
        ...env,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const s = store;
    const bus = nc;
    const writeCluster = async (clusterId: string, planId: string, options = { node: false }) => {
      const plan = findPlan(planId)!;
      const id = runtimeNodeId(clusterId, 'node1');
      let port = 5432;
      if (options.node) {
        const stanza = plan.pitrDays > 0 ? clusterId : undefined;
        nodes.push({ id, ...(stanza ? { stanza } : {}) });
        port = (await runtime.create({ clusterId, nodeId: id, major: 15, port: await freePort() })).port;
        await runtime.initialize(id, { plan, ...(stanza ? { archive: { stanza } } : {}) });
        await runtime.start(id);
      }
      const requested = {
        ...{ clusterId, name: `db-${clusterId}`, accountId: 'default', plan: planId, version: 15 as const },
        ...{ secretRef: `cluster/${clusterId}/app`, nodes: [{ nodeId: 'node1', role: 'leader' as const }] },
      };
      const events: DomainEvent[] = [
        { type: 'ClusterRequested', data: requested },
        { type: 'NodeProvisioned', data: { nodeId: 'node1', role: 'leader', port } },
        { type: 'NodeStarted', data: { nodeId: 'node1', port } },
        { type: 'ClusterReady', data: { leader: 'node1', host: '127.0.0.1', port, database: 'app', user: 'app' } },
      ];
      await s.appendToStream(streamIds.cluster(clusterId), events, { expectedVersion: 'no_stream' });
    };
    const sql = async <R extends Record<string, unknown>>(clusterId: string, text: string) => {
      const endpoint = await runtime.endpoint(runtimeNodeId(clusterId, 'node1'));
      return withClient(endpoint, async (q) => (await q.query<R>(text)).rows);
    };
    const pitrEvents = async (clusterId: string) => (await s.readStream(streamIds.pitr(clusterId))).events;
    const waitFor = async (clusterId: string, type: string, timeoutMs = 120_000, after = 0) => {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const found = (await pitrEvents(clusterId)).slice(after).find((e) => e.type === type);
        if (found) return found;
        if (Date.now() > until) {
          const seen = (await pitrEvents(clusterId)).map((e) => e.type).join(', ');
          throw new Error(`no ${type} on pitr-${clusterId} within ${timeoutMs} ms (seen: ${seen || 'nothing'})`);
        }
        await sleep(250);
      }
    };
    const query = async (name: string, body: object) => {
      for (let attempt = 0; ; attempt++) {
        try {
          const m = await bus.request(querySubject('pitr', name), JSON.stringify(body), { timeout: 5000 });
          return m.json<Record<string, unknown>>();
        } catch (error) {
          if (attempt > 50) throw error;
          await sleep(200);
        }
      }
    };
    return { dir, repo, store, nc, runtime, writeCluster, sql, pitrEvents, waitFor, query, close };
  } catch (error) {
    await close();
    throw error;
  }
}
