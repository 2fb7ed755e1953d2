import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { findPlan, streamIds, type DomainEvent, type Plan } from '@pgfleet/contracts';
import { createPostgresEventStore, type PostgresEventStore } from '@pgfleet/eventstore';
import { createLogger } from '@pgfleet/kit';
import {
  cloneFollower, createAppRoleAndDb, createReplicationRole, freePort, generatePassword, initNode, ownedTempDir, startLocalServer,
  withClient, type LocalServer, type NodeConn,
} from '@pgfleet/postgres';
import { createProcessRuntime, type NodeInfo, type NodeRuntime } from '@pgfleet/runtime';
import { createFileBackupStore } from '@pgfleet/backupstore';
import type { BackupDeps } from '../workers/deps.js';
import { DumpProgress } from '../workers/progress.js';

/**
 * Integration-test world: a real PostgreSQL holding the event store, real PostgreSQL 15 nodes
 * (a leader with the `app` database and, optionally, a streaming follower cloned from it), and
 * cluster streams written by hand (so no provisioning process is needed).
 */
export interface BackupWorld {
  dir: string;
  store: PostgresEventStore;
  runtime: NodeRuntime;
  leader: NodeInfo;
  follower?: NodeInfo;
  deps: BackupDeps & { files: ReturnType<typeof createFileBackupStore> };
  /** Write ClusterRequested..ClusterReady for a cluster living on the given nodes. */
  writeCluster(clusterId: string, planId: string, nodes: NodeInfo[], name?: string): Promise<void>;
  /** Create a fresh stand-alone node with the app role and database (a restore target). */
  freshNode(nodeId: string): Promise<NodeInfo>;
  superuser(node: NodeInfo, database?: string): NodeConn;
  close(): Promise<void>;
}

export async function startBackupWorld(options: { follower: boolean }): Promise<BackupWorld> {
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
    const appPassword = generatePassword();
    const replPassword = generatePassword();
    const superuser = (n: NodeInfo, database = 'postgres'): NodeConn => ({ host: n.socketDir, port: n.port, user: 'postgres', database });
    const newNode = async (nodeId: string) => {
      const info = await runtime.create({ clusterId: 'fixture', nodeId, major: 15, port: await freePort() });
      created.push(info);
      return info;
    };
    const freshNode = async (nodeId: string) => {
      const n = await newNode(nodeId);
      await initNode({ major: 15, dataDir: n.dataDir, port: n.port, plan });
      await runtime.start(n.nodeId);
      await createAppRoleAndDb(superuser(n), { role: 'app', database: 'app', password: appPassword });
      return n;
    };
    const leader = await freshNode('fx-node1');
    await createReplicationRole(superuser(leader), { role: 'replicator', password: replPassword });
    let follower: NodeInfo | undefined;
    if (options.follower) {
      follower = await newNode('fx-node2');
      await cloneFollower({ major: 15, dataDir: follower.dataDir, port: follower.port, plan, slotName: 'node2',
        leader: { host: '127.0.0.1', port: leader.port, user: 'replicator', password: replPassword } });
      await runtime.start(follower.nodeId);
    }
    const s = store;
    const writeCluster = async (clusterId: string, planId: string, nodes: NodeInfo[], name = 'prod-db') => {
      const ids = nodes.map((_, i) => `node${i + 1}`);
      const events: DomainEvent[] = [
        { type: 'ClusterRequested', data: { clusterId, name, accountId: 'default', plan: planId, version: 15, secretRef: `cluster/${clusterId}/app`,
          nodes: ids.map((nodeId, i) => ({ nodeId, role: i === 0 ? 'leader' : 'follower' })) } },
        ...nodes.map((n, i): DomainEvent => ({ type: 'NodeProvisioned', data: { nodeId: ids[i]!, role: i === 0 ? 'leader' : 'follower', port: n.port, dataDir: n.dataDir } })),
        ...nodes.map((n, i): DomainEvent => ({ type: 'NodeStarted', data: { nodeId: ids[i]!, port: n.port } })),
        { type: 'ClusterReady', data: { leader: 'node1', host: '127.0.0.1', port: nodes[0]!.port, database: 'app', user: 'app' } },
      ];
      await s.appendToStream(streamIds.cluster(clusterId), events, { expectedVersion: 'no_stream' });
    };
    const files = createFileBackupStore(join(dir, 'home', 'backups'));
    const deps = { store, files, log: createLogger('backup-test', 'silent'), progress: new DumpProgress() };
    return { dir, store, runtime, leader, ...(follower ? { follower } : {}), deps, writeCluster, freshNode, superuser, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Run SQL as the superuser in a node's app database. */
export async function sql<R extends Record<string, unknown>>(conn: NodeConn, text: string): Promise<R[]> {
  return withClient({ ...conn, database: conn.database ?? 'app' }, async (q) => (await q.query<R>(text)).rows);
}
