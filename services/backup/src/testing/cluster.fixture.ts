import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  findPlan,
  runtimeNodeId,
  secretRefs,
  slotName,
  streamIds,
  type DomainEvent,
  type NodeRole,
  type Plan,
  type PostgresVersion,
} from '@pgfleet/contracts';
import { createFileBackupStore } from '@pgfleet/backupstore';
import { createPostgresEventStore, type PostgresEventStore } from '@pgfleet/eventstore';
import { createLogger } from '@pgfleet/kit';
import {
  createAppRoleAndDb,
  createReplicationRole,
  freePort,
  generatePassword,
  openSecretStore,
  ownedTempDir,
  startLocalServer,
  withClient,
  type LocalServer,
} from '@pgfleet/postgres';
import { createProcessRuntime, type NodeInfo, type NodeRuntime } from '@pgfleet/runtime';
import type { BackupDeps } from '../workers/deps.js';
import { DumpProgress } from '../workers/progress.js';

/** A node's database as its superuser, reached through the runtime (like the service does). */
export interface NodeTarget {
  runtime: NodeRuntime;
  nodeId: string;
  database: string;
}

/**
 * Integration-test world: a real PostgreSQL holding the event store, real PostgreSQL 15 nodes made
 * by the process runtime (a leader with the `app` database and, optionally, a streaming follower
 * cloned from it), and cluster streams written by hand (so no provisioning process is needed).
 * Several test clusters live on the same real nodes: the runtime the workers get knows each
 * cluster's node ids (`runtimeNodeId(clusterId, 'node1')`) as aliases of the real nodes; each
 * cluster's `app` password (the same for all, as they share the nodes) is in the secret store.
 */
export interface BackupWorld {
  dir: string;
  store: PostgresEventStore;
  /** The real runtime (its ids are the nodes' `nodeId`). */
  runtime: NodeRuntime;
  leader: NodeInfo;
  follower?: NodeInfo;
  deps: BackupDeps & { files: ReturnType<typeof createFileBackupStore> };
  /** Write ClusterRequested..ClusterReady for a cluster living on the given nodes (node1 leads). */
  writeCluster(clusterId: string, planId: string, nodes: NodeInfo[], name?: string): Promise<void>;
  /** Create a fresh stand-alone node with the app role and database (a restore target). */
  freshNode(nodeId: string): Promise<NodeInfo>;
  superuser(node: NodeInfo, database?: string): NodeTarget;
  close(): Promise<void>;
}

const MAJOR: PostgresVersion = 15;

export async function startBackupWorld(options: { follower: boolean; appPassword?: string }): Promise<BackupWorld> {
  const dir = await ownedTempDir('pgfleet-backup-');
  const created: NodeInfo[] = [];
  let pg: LocalServer | undefined;
  let store: PostgresEventStore | undefined;
  const runtime = createProcessRuntime({ home: join(dir, 'home') });
  const close = async () => {
    for (const n of created) await runtime.remove(n.nodeId).catch(() => undefined);
    await store?.close().catch(() => undefined);
    await pg?.stop('immediate').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    pg = await startLocalServer({ dataDir: join(dir, 'store'), port: await freePort() });
    store = createPostgresEventStore({ connectionString: pg.url() });
    await store.migrate();
    const plan: Plan = findPlan('business-1024')!;
    const appPassword = options.appPassword ?? generatePassword();
    const replPassword = generatePassword();
    const superuser = (n: NodeInfo, database = 'postgres'): NodeTarget => ({ runtime, nodeId: n.nodeId, database });
    const endpoint = async (n: NodeInfo) => runtime.endpoint(n.nodeId, 'postgres');
    const newNode = async (nodeId: string) => {
      const info = await runtime.create({ clusterId: 'fixture', nodeId, major: MAJOR, port: await freePort() });
      created.push(info);
      return info;
    };
    const freshNode = async (nodeId: string) => {
      const n = await newNode(nodeId);
      await runtime.initialize(n.nodeId, { plan });
      await runtime.start(n.nodeId);
      await createAppRoleAndDb(await endpoint(n), { role: 'app', database: 'app', password: appPassword });
      return n;
    };
    const leader = await freshNode('fx-node1');
    await createReplicationRole(await endpoint(leader), { role: 'replicator', password: replPassword });
    let follower: NodeInfo | undefined;
    if (options.follower) {
      follower = await newNode('fx-node2');
      const upstream = { ...(await runtime.peerAddress(leader.nodeId)), user: 'replicator', password: replPassword };
      await runtime.cloneFrom(follower.nodeId, { plan, leader: upstream, slotName: slotName('node2') });
      await runtime.start(follower.nodeId);
    }

    const aliases = new Map<string, string>();
    const secrets = openSecretStore(join(dir, 'home'));
    const s = store;
    const writeCluster = async (clusterId: string, planId: string, nodes: NodeInfo[], name = 'prod-db') => {
      const roleOf = (i: number): NodeRole => (i === 0 ? 'leader' : 'follower');
      const members = nodes.map((n, i) => ({ nodeId: `node${i + 1}`, role: roleOf(i), port: n.port }));
      for (const [i, m] of members.entries()) aliases.set(runtimeNodeId(clusterId, m.nodeId), nodes[i]!.nodeId);
      const requested = {
        clusterId,
        name,
        accountId: 'default',
        plan: planId,
        version: MAJOR,
        secretRef: secretRefs.app(clusterId),
        nodes: members.map(({ nodeId, role }) => ({ nodeId, role })),
      };
      const ready = { leader: 'node1', host: '127.0.0.1', port: nodes[0]!.port, database: 'app', user: 'app' };
      const events: DomainEvent[] = [
        { type: 'ClusterRequested', data: requested },
        ...members.map((data): DomainEvent => ({ type: 'NodeProvisioned', data })),
        ...members.map(({ nodeId, port }): DomainEvent => ({ type: 'NodeStarted', data: { nodeId, port } })),
        { type: 'ClusterReady', data: ready },
      ];
      await s.appendToStream(streamIds.cluster(clusterId), events, { expectedVersion: 'no_stream' });
      await secrets.put(secretRefs.app(clusterId), appPassword);
    };
    const files = createFileBackupStore(join(dir, 'home', 'backups'));
    const log = createLogger('backup-test', 'silent');
    const runtimeOf = aliased(runtime, aliases);
    const deps = { store, files, runtime: runtimeOf, secrets, log, progress: new DumpProgress() };
    const nodes = { leader, ...(follower ? { follower } : {}) };
    return { dir, store, runtime, ...nodes, deps, writeCluster, freshNode, superuser, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The runtime with extra names for nodes: every method taking a node id first reads an alias as
 * the node it stands for. Lets several test clusters share the same real nodes.
 */
function aliased(runtime: NodeRuntime, aliases: ReadonlyMap<string, string>): NodeRuntime {
  return new Proxy(runtime, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return (first: unknown, ...rest: unknown[]) =>
        value.call(target, typeof first === 'string' ? (aliases.get(first) ?? first) : first, ...rest);
    },
  });
}

/** Run SQL as the superuser in a node's database. */
export async function sql<R extends Record<string, unknown>>(target: NodeTarget, text: string): Promise<R[]> {
  const endpoint = await target.runtime.endpoint(target.nodeId, target.database);
  return withClient(endpoint, async (q) => (await q.query<R>(text)).rows);
}
