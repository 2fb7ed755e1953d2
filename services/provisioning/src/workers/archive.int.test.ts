import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { foldClusterView, runtimeNodeId, streamIds, type CommandReply } from '@pgfleet/contracts';
import { createPostgresEventStore, type PostgresEventStore } from '@pgfleet/eventstore';
import { createLogger } from '@pgfleet/kit';
import {
  freePort,
  openSecretStore,
  ownedTempDir,
  startLocalServer,
  withClient,
  type LocalServer,
  type SecretStore,
} from '@pgfleet/postgres';
import { createProcessRuntime, type NodeRuntime } from '@pgfleet/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster } from '../commands.js';
import { reconcileCluster } from './reconcile.js';

let server: LocalServer;
let store: PostgresEventStore;
let home: string;
let runtime: NodeRuntime;
let secrets: SecretStore;
const log = createLogger('provisioning-test', 'silent');

const clusterIdOf = (reply: CommandReply): string => {
  const id = reply.ok ? reply.result?.clusterId : undefined;
  if (typeof id !== 'string') throw new Error(`CreateCluster was not accepted: ${JSON.stringify(reply)}`);
  return id;
};
const leaderOf = (clusterId: string) => runtimeNodeId(clusterId, 'node1');
const superuser = async (clusterId: string, database = 'app') => runtime.endpoint(leaderOf(clusterId), database);
/** The application's login over TCP, as a client of the cluster would make it. */
const asApp = async (clusterId: string, password: string) => ({
  ...(await runtime.peerAddress(leaderOf(clusterId))),
  user: 'app',
  password,
  database: 'app',
});
const settingsOf = async (clusterId: string) =>
  withClient(await superuser(clusterId, 'postgres'), async (q) => {
    const names = ['archive_mode', 'archive_command', 'restore_command'];
    const { rows } = await q.query<{ name: string; setting: string }>(
      'SELECT name, setting FROM pg_settings WHERE name = ANY($1)',
      [names],
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  });
const make = async (name: string, plan: string, extra: Record<string, unknown> = {}) => {
  const reply = await createCluster(
    { store, secrets },
    { name, plan, version: 15, accountId: 'acme', durability: 'available', ...extra } as const,
    {},
  );
  const clusterId = clusterIdOf(reply);
  await reconcileCluster({ store, runtime, secrets, log }, clusterId);
  return { clusterId, view: foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events) };
};

beforeAll(async () => {
  home = await ownedTempDir('pgfleet-prov-pitr-');
  server = await startLocalServer({ dataDir: join(home, 'store'), port: await freePort(), settings: { fsync: 'off' } });
  store = createPostgresEventStore({ connectionString: server.url() });
  runtime = createProcessRuntime({ home });
  secrets = openSecretStore(home);
});
afterAll(async () => {
  // Every node the test made: stopped and removed before its home goes.
  const dir = home ? join(home, 'clusters') : '';
  const clusters = dir && existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : [];
  for (const c of clusters.filter((d) => d.isDirectory())) {
    for (const n of await runtime.list(c.name)) await runtime.remove(n.nodeId).catch(() => undefined);
  }
  await store?.close();
  await server?.stop('immediate');
  rmSync(home, { recursive: true, force: true });
});

describe('archiving of PITR plans, real PostgreSQL and pgBackRest', () => {
  it("a Starter node archives its WAL into its cluster's stanza, a Sandbox node not; a fork needs one", async () => {
    const starter = await make('archived', 'starter-512');
    expect(starter.view.status).toBe('ready');
    const on = await settingsOf(starter.clusterId);
    expect(on.archive_mode).toBe('on');
    expect(on.archive_command).toContain(`--stanza=${starter.clusterId}`);
    expect(on.archive_command).toContain('archive-push');
    expect(on.restore_command).toContain(`--stanza=${starter.clusterId}`);
    // Its stanza exists from the start: archiving works before the first backup.
    expect((await runtime.archive.info(starter.clusterId)).status).toBe('ok');

    const sandbox = await make('unarchived', 'sandbox');
    expect(sandbox.view.status).toBe('ready');
    const off = await settingsOf(sandbox.clusterId);
    expect(off.archive_mode).toBe('off');
    expect(off.restore_command).toBe('');

    // A fork needs an archive of the same major version to come from.
    const from = (clusterId: string) => ({ restoreFrom: { clusterId, targetTime: new Date().toISOString() } });
    const create = (name: string, extra: Record<string, unknown>) =>
      createCluster(
        { store, secrets },
        { name, plan: 'starter-512', version: 15, accountId: 'acme', durability: 'available', ...extra } as const,
        {},
      );
    expect(await create('fork-a', from(sandbox.clusterId))).toMatchObject({
      ok: false,
      code: 'PITR_NOT_AVAILABLE',
      details: { field: 'restoreFrom.clusterId' },
    });
    expect(await create('fork-b', from('nowhere-0000'))).toMatchObject({ ok: false, code: 'CLUSTER_NOT_FOUND' });
    expect(await create('fork-c', { ...from(starter.clusterId), version: 13 })).toMatchObject({
      ok: false,
      code: 'VERSION_MISMATCH',
      details: { field: 'version', version: 15 },
    });
  });

  it(
    'a fork restored to a time between two batches has the first and not the second, opens with its own ' +
      "password and not the source's, archives into its own stanza; an interrupted restore is redone, a recorded " +
      'one is not; a target outside the archive fails provisioning with the reason; the source is untouched',
    async () => {
      const source = await make('forked', 'starter-512');
      const a = source.clusterId;
      const aPassword = (await secrets.get(`cluster/${a}/app`))!;
      await runtime.archive.createStanza(a, leaderOf(a));
      const backup = await runtime.archive.backup(a, { leaderNodeId: leaderOf(a) });
      // The window starts at the backup's stop time (whole seconds, rounded up): write after it.
      await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(backup.stoppedAt) + 100 - Date.now())));
      const between = await withClient(await asApp(a, aPassword), async (q) => {
        await q.query('CREATE TABLE batches (batch int)');
        await q.query('INSERT INTO batches SELECT 1 FROM generate_series(1, 100)');
        const { rows } = await q.query<{ at: string }>(
          `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`,
        );
        await new Promise((r) => setTimeout(r, 50));
        await q.query('INSERT INTO batches SELECT 2 FROM generate_series(1, 100)');
        return rows[0]!.at;
      });
      await runtime.archive.check(a, leaderOf(a)); // a WAL switch, archived: batch 2's commit is in the archive

      // The worker's view of the world: restores counted; the store loses the append of
      // NodeProvisioned once, then that of NodeStarted once (a crash of the worker at each point).
      let restores = 0;
      const counting: NodeRuntime = {
        ...runtime,
        archive: {
          ...runtime.archive,
          restore: async (...args) => {
            restores += 1;
            return runtime.archive.restore(...args);
          },
        },
      };
      const lose = ['NodeProvisioned', 'NodeStarted'];
      const flaky = new Proxy(store, {
        get(target, key, receiver) {
          const value = Reflect.get(target, key, receiver);
          if (key !== 'appendToStream' || typeof value !== 'function') return value;
          return async (...args: unknown[]) => {
            if (lose[0] && JSON.stringify(args[1]).includes(lose[0]))
              throw new Error(`connect ECONNREFUSED (${lose.shift()})`);
            return value.apply(target, args);
          };
        },
      });
      const restoreFrom = { clusterId: a, targetTime: between };
      const request = {
        name: 'fork',
        plan: 'starter-512',
        version: 15,
        accountId: 'acme',
        durability: 'available',
        restoreFrom,
      } as const;
      const b = clusterIdOf(await createCluster({ store, secrets }, request, {}));
      const deps = { store: flaky, runtime: counting, secrets, log };
      await expect(reconcileCluster(deps, b)).rejects.toThrow(/unavailable/);
      expect(restores).toBe(1);
      await expect(reconcileCluster(deps, b)).rejects.toThrow(/unavailable/);
      expect(restores).toBe(2); // restored, not recorded: made again
      await reconcileCluster(deps, b);
      expect(restores).toBe(2); // recorded (NodeProvisioned): only started and given its roles
      const fork = foldClusterView((await store.readStream(streamIds.cluster(b))).events);
      expect(fork).toMatchObject({ status: 'ready', restoreFrom });

      const bPassword = (await secrets.get(`cluster/${b}/app`))!;
      expect(bPassword).not.toBe(aPassword);
      const batchesOf = async (clusterId: string, password: string) =>
        withClient(await asApp(clusterId, password), async (q) => {
          const { rows } = await q.query<{ batch: number; n: string }>(
            'SELECT batch, count(*) AS n FROM batches GROUP BY batch ORDER BY batch',
          );
          return rows.map((r) => `${r.batch}:${r.n}`);
        });
      expect(await batchesOf(b, bPassword)).toEqual(['1:100']);
      await expect(batchesOf(b, aPassword)).rejects.toThrow(/password authentication failed/);
      const own = await settingsOf(b);
      expect(own.archive_command).toContain(`--stanza=${b}`);
      expect(own.restore_command).toContain(`--stanza=${b}`);
      expect(own.restore_command).not.toContain(`--stanza=${a} `);

      // The source carries on as it was.
      expect(await batchesOf(a, aPassword)).toEqual(['1:100', '2:100']);
      expect((await runtime.status(leaderOf(a))).state).toBe('running');

      // Before the archive's window: the provisioning fails with the runtime's reason.
      const early = {
        ...request,
        name: 'too-early',
        restoreFrom: { clusterId: a, targetTime: '2020-01-01T00:00:00Z' },
      };
      const c = await make(early.name, early.plan, { restoreFrom: early.restoreFrom });
      expect(c.view.status).toBe('failed');
      expect(c.view.failureReason).toMatch(/before the recovery window/);
    },
  );
});
