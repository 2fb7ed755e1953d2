import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldClusterView, runtimeNodeId, streamIds, type CommandReply } from '@pgfleet/contracts';
import { createPostgresEventStore, type EventStore, type PostgresEventStore } from '@pgfleet/eventstore';
import { createLogger, executeOperation, loadOperation } from '@pgfleet/kit';
import {
  freePort,
  nodeStatus,
  openSecretStore,
  ownedTempDir,
  startLocalServer,
  withClient,
  type LocalServer,
} from '@pgfleet/postgres';
import { createProcessRuntime, NodeRuntimeError, type NodeRuntime } from '@pgfleet/runtime';
import { createCluster, deleteCluster, switchoverCluster } from '../commands.js';
import { reconcileCluster, type ReconcileDeps } from './reconcile.js';
import { switchoverExecutor } from './switchover.js';

let server: LocalServer;
let store: PostgresEventStore;
let home: string;
let real: NodeRuntime;
/** Faults a test plants in the runtime: a method here replaces the real one. */
let faults: Partial<NodeRuntime> = {};
let deps: ReconcileDeps;
let clusterId: string;
const log = createLogger('provisioning-test', 'silent');

const rid = (nodeId: string) => runtimeNodeId(clusterId, nodeId);
const view = async () => foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events);

/** The nodes that accept writes (pg_is_in_recovery() = f), of those that run. */
async function primaries(): Promise<string[]> {
  const found: string[] = [];
  for (const nodeId of ['node1', 'node2', 'node3']) {
    if ((await real.status(rid(nodeId))).state !== 'running') continue;
    const sql = 'SELECT pg_is_in_recovery() AS r';
    const r = await withClient(await real.endpoint(rid(nodeId)), async (q) => (await q.query(sql)).rows[0]?.r);
    if (r === false) found.push(nodeId);
  }
  return found;
}

/** Wait until the leader sees every other node streaming (its standbys). */
async function streamingFrom(leader: string): Promise<string[]> {
  for (let i = 0; ; i++) {
    const st = await nodeStatus(await real.endpoint(rid(leader)));
    const names = st.standbys.filter((s) => s.state === 'streaming').map((s) => s.applicationName);
    if (names.length === 2 || i > 100) return names.sort();
    await new Promise((r) => setTimeout(r, 100));
  }
}

const operationIdOf = (reply: CommandReply): string => {
  if (!reply.ok || typeof reply.result?.operationId !== 'string') throw new Error(JSON.stringify(reply));
  return reply.result.operationId;
};

async function askSwitchover(to: string): Promise<string> {
  return operationIdOf(await switchoverCluster(deps, { clusterId, to }, {}));
}

const execute = (operationId: string, on: ReconcileDeps = deps) =>
  executeOperation({ store: on.store, log }, clusterId, operationId, switchoverExecutor(on));

beforeAll(async () => {
  home = await ownedTempDir('pgfleet-switchover-');
  server = await startLocalServer({ dataDir: join(home, 'store'), port: await freePort(), settings: { fsync: 'off' } });
  store = createPostgresEventStore({ connectionString: server.url() });
  real = createProcessRuntime({ home });
  const runtime = new Proxy(real, {
    get: (target, key: keyof NodeRuntime) => faults[key] ?? target[key],
  });
  deps = { store, runtime, secrets: openSecretStore(home), log, home };
  const created = await createCluster(
    deps,
    { name: 'moves', plan: 'business-1024', version: 15, accountId: 'acme' },
    {},
  );
  if (!created.ok) throw new Error(created.message);
  clusterId = String(created.result?.clusterId);
  await reconcileCluster(deps, clusterId);
  expect((await view()).status).toBe('ready');
});
afterAll(async () => {
  faults = {};
  if (clusterId) {
    await deleteCluster(deps, { clusterId }, {}).catch(() => undefined);
    await reconcileCluster(deps, clusterId).catch(() => undefined);
  }
  await store?.close();
  await server?.stop('immediate');
  rmSync(home, { recursive: true, force: true });
});

describe('the switchover operation against real servers', () => {
  it(
    'two switchovers asked at once: one operation, the other OPERATION_IN_PROGRESS; it runs its steps in order to ' +
      'one primary, recorded with its timeline, every standby streaming, synchronous',
    async () => {
      const replies = await Promise.all(['node2', 'node3'].map((to) => switchoverCluster(deps, { clusterId, to }, {})));
      const accepted = replies.filter((r) => r.ok);
      const refused = replies.filter((r) => !r.ok);
      expect(accepted).toHaveLength(1);
      expect(refused).toMatchObject([
        { code: 'OPERATION_IN_PROGRESS', details: { operationId: operationIdOf(accepted[0]!), kind: 'switchover' } },
      ]);
      const operationId = operationIdOf(accepted[0]!);
      const { to } = (await loadOperation(store, clusterId, operationId))!.params as { to: string };

      expect(await execute(operationId)).toBe('succeeded');
      const op = (await loadOperation(store, clusterId, operationId))!;
      expect(op.steps.map((s) => s.step)).toEqual([
        'check',
        'cascade',
        'fence',
        'caught-up',
        'promote',
        'record-leader',
        'repoint-followers',
        'old-leader-follows',
        'sync',
      ]);
      expect(op.result).toEqual({ from: 'node1', to, timeline: 2 });
      expect(op.steps[2]?.detail).toMatchObject({ checkpoint: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/) });
      const after = await view();
      expect(after.leader).toBe(to);
      expect(after.ops.running).toBeUndefined();
      expect(await primaries()).toEqual([to]);
      expect(await streamingFrom(to)).toEqual(['node1', 'node2', 'node3'].filter((n) => n !== to));
      const st = await nodeStatus(await real.endpoint(rid(to)));
      expect(st.synchronousStandbyNames).toMatch(/^ANY 1 \(/);
      // Running it again (a redelivered request) does nothing.
      expect(await execute(operationId)).toBe('skipped');
    },
  );

  it.each([
    'check',
    'cascade',
    'fence',
    'caught-up',
    'promote',
    'record-leader',
    'repoint-followers',
    'old-leader-follows',
    'sync',
  ])(
    'a run that dies once step %s is done but not yet recorded is resumed: the step is done again, the operation ' +
      'succeeds with exactly one primary',
    async (step) => {
      const { leader } = await view();
      const to = leader === 'node1' ? 'node2' : 'node1';
      const operationId = await askSwitchover(to);
      // The dying run: its append of this step never returns, so nothing after it runs (like kill -9).
      let died!: () => void;
      const dead = new Promise<void>((resolve) => (died = resolve));
      const dying: EventStore = new Proxy(store, {
        get(target, key, receiver) {
          const value = Reflect.get(target, key, receiver);
          if (key !== 'appendToStream') return value;
          return (...args: Parameters<EventStore['appendToStream']>) => {
            if (JSON.stringify(args[1]).includes(`"step":"${step}"`)) {
              died();
              return new Promise(() => undefined);
            }
            return value.apply(target, args);
          };
        },
      });
      void execute(operationId, { ...deps, store: dying });
      await dead;
      expect(await execute(operationId)).toBe('succeeded');
      const op = (await loadOperation(store, clusterId, operationId))!;
      expect(op.steps.map((s) => s.step)).toContain('record-leader');
      expect((await view()).leader).toBe(to);
      expect(await primaries()).toEqual([to]);
      expect(await streamingFrom(to)).toHaveLength(2);
    },
  );

  it(
    'a promotion that fails: the old leader is back as the leader once the target is known to be a standby; the ' +
      'operation fails at promote; writes go on',
    async () => {
      const { leader } = await view();
      const to = leader === 'node1' ? 'node3' : 'node1';
      faults = {
        promote: async () => {
          throw new Error('the standby was not promoted within 60 s');
        },
      };
      try {
        const operationId = await askSwitchover(to);
        expect(await execute(operationId)).toBe('failed');
        expect(await loadOperation(store, clusterId, operationId)).toMatchObject({
          status: 'failed',
          failedStep: 'promote',
          error: `the standby was not promoted within 60 s; ${leader} stays the leader`,
        });
      } finally {
        faults = {};
      }
      expect((await view()).leader).toBe(leader);
      expect(await primaries()).toEqual([leader]);
      expect(await streamingFrom(leader!)).toHaveLength(2);
      await withClient(await real.endpoint(rid(leader!)), (q) => q.query('CREATE TABLE IF NOT EXISTS still(v int)'));
    },
  );

  it('pg_promote that gives up although the target was promoted: the operation goes forward, never back', async () => {
    const { leader } = await view();
    const to = leader === 'node1' ? 'node3' : 'node1';
    faults = {
      promote: async (nodeId) => {
        await real.promote(nodeId);
        throw new Error('pg_promote timed out');
      },
    };
    try {
      expect(await execute(await askSwitchover(to))).toBe('succeeded');
    } finally {
      faults = {};
    }
    expect((await view()).leader).toBe(to);
    expect(await primaries()).toEqual([to]);
  });

  it('a target that is not a streaming standby: the operation fails at check, the leader never stopped', async () => {
    const { leader } = await view();
    const to = leader === 'node1' ? 'node2' : 'node1';
    const pid = (await real.status(rid(leader!))).pid;
    await real.stop(rid(to), 'fast');
    try {
      const operationId = await askSwitchover(to);
      expect(await execute(operationId)).toBe('failed');
      expect(await loadOperation(store, clusterId, operationId)).toMatchObject({ failedStep: 'check' });
      expect((await real.status(rid(leader!))).pid).toBe(pid);
    } finally {
      await real.start(rid(to));
    }
    expect(await primaries()).toEqual([leader]);
  });

  it(
    'a failure after the promotion never starts the old leader as a primary: the leader change is recorded, the ' +
      'operation fails at that step, and the old leader can follow later',
    async () => {
      const { leader: from } = await view();
      const to = from === 'node1' ? 'node2' : 'node1';
      faults = {
        follow: async (nodeId) => {
          throw new NodeRuntimeError('START_FAILED', `node ${nodeId} failed to start: FATAL: no space left`);
        },
      };
      try {
        const operationId = await askSwitchover(to);
        expect(await execute(operationId)).toBe('failed');
        const op = (await loadOperation(store, clusterId, operationId))!;
        expect(op).toMatchObject({
          failedStep: 'old-leader-follows',
          error: expect.stringContaining(`${to} is the leader`),
        });
        // The other steps were done all the same: the other follower streams from the new leader.
        expect(op.steps.map((s) => s.step)).toEqual([
          'check',
          'cascade',
          'fence',
          'caught-up',
          'promote',
          'record-leader',
          'repoint-followers',
          'sync',
        ]);
      } finally {
        faults = {};
      }
      const others = ['node1', 'node2', 'node3'].filter((n) => n !== to && n !== from);
      expect((await view()).leader).toBe(to);
      expect(await primaries()).toEqual([to]);
      expect((await real.status(rid(from!))).state).toBe('stopped');
      expect((await nodeStatus(await real.endpoint(rid(to)))).standbys.map((s) => s.applicationName)).toEqual(others);
      // Repaired by hand (what the next switchover would need): the old leader follows the new one.
      const leader = { ...(await real.peerAddress(rid(to))), user: 'replicator', sslmode: 'verify-full' };
      const password = (await deps.secrets.get(`cluster/${clusterId}/replication`))!;
      await withClient(await real.endpoint(rid(to)), (q) =>
        q.query(`SELECT pg_create_physical_replication_slot('${from}')
          WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '${from}')`),
      );
      await real.follow(rid(from!), { ...leader, password }, from!);
      await real.start(rid(from!));
      expect(await primaries()).toEqual([to]);
      expect(await streamingFrom(to)).toHaveLength(2);
    },
  );
});
