import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPlan, uuidv7 } from '@pgfleet/contracts';
import {
  cloneFollower,
  createAppRoleAndDb,
  createReplicationRole,
  freePort,
  generatePassword,
  initNode,
  nodeStatus,
  openSecretStore,
  ownedTempDir,
  setSynchronousStandbys,
  withClient,
  FOLLOWER_PASSFILE,
  type SecretStore,
} from '@pgfleet/postgres';
import { createProcessRuntime } from './processRuntime.js';
import { processesIn } from './postmaster.js';
import type { NodeInfo, NodeRuntime } from '../port.js';

const plan = findPlan('business-1024')!;
const clusterId = uuidv7();
let home: string;
let runtime: NodeRuntime;
let secrets: SecretStore;
let leader: NodeInfo;
let follower: NodeInfo;
const slot = 'follower_1';

const superuser = (n: NodeInfo) => ({ host: n.socketDir, port: n.port });
async function appClient(n: NodeInfo): Promise<pg.Client> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: n.port,
    user: 'app',
    database: 'appdb',
    password: await secrets.get(`${clusterId}/app`),
  });
  await c.connect();
  return c;
}
async function query<T extends pg.QueryResultRow>(n: NodeInfo, sql: string): Promise<T[]> {
  const c = await appClient(n);
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}
async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; ; i++) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined && ok(v)) return v;
    if (i > 600) throw new Error(`condition not met; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
/** Postmasters among the processes of a data dir: those whose parent is not one of them. */
function postmasters(dataDir: string): number[] {
  const pids = processesIn(dataDir);
  const ppid = (pid: number) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  };
  return pids.filter((p) => !pids.includes(ppid(p)));
}

beforeAll(async () => {
  home = await ownedTempDir('pgfleet-runtime-');
  runtime = createProcessRuntime({ home });
  secrets = openSecretStore(home);
});

afterAll(async () => {
  if (runtime) for (const n of await runtime.list(clusterId)) await runtime.remove(n.nodeId).catch(() => undefined);
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('process runtime with real PostgreSQL 15', () => {
  it('creates and starts a leader that the app role reaches with the password from the secret store', async () => {
    leader = await runtime.create({ clusterId, nodeId: uuidv7(), major: 15, port: await freePort() });
    expect(leader.dataDir).toBe(join(home, 'clusters', clusterId, leader.nodeId, 'data'));
    expect(await runtime.status(leader.nodeId)).toMatchObject({ state: 'stopped' });
    await initNode({
      major: 15,
      dataDir: leader.dataDir,
      port: leader.port,
      plan,
      clusterName: leader.nodeId.slice(0, 8),
    });
    const { pid } = await runtime.start(leader.nodeId);
    expect(await runtime.status(leader.nodeId)).toMatchObject({ state: 'running', pid });

    await secrets.put(`${clusterId}/app`, generatePassword());
    await secrets.put(`${clusterId}/replication`, generatePassword());
    await createReplicationRole(superuser(leader), {
      role: 'replicator',
      password: (await secrets.get(`${clusterId}/replication`))!,
    });
    await createAppRoleAndDb(superuser(leader), {
      role: 'app',
      database: 'appdb',
      password: (await secrets.get(`${clusterId}/app`))!,
    });

    await query(leader, 'CREATE TABLE items (id int PRIMARY KEY, note text)');
    await query(leader, "INSERT INTO items VALUES (1, 'first')");
    expect(await query(leader, 'SELECT note FROM items')).toEqual([{ note: 'first' }]);
    const settings = await query<{ shared_buffers: string; checksums: string }>(
      leader,
      "SELECT current_setting('shared_buffers') AS shared_buffers, current_setting('data_checksums') AS checksums",
    );
    expect(settings).toEqual([{ shared_buffers: '256MB', checksums: 'on' }]);
  });

  it('refuses a wrong password over TCP', async () => {
    const c = new pg.Client({
      host: '127.0.0.1',
      port: leader.port,
      user: 'app',
      database: 'appdb',
      password: 'wrong',
    });
    await expect(c.connect()).rejects.toThrow(/password authentication failed/);
  });

  it('clones a follower with pg_basebackup that is in recovery and replays new rows', async () => {
    follower = await runtime.create({ clusterId, nodeId: uuidv7(), major: 15, port: await freePort() });
    const password = (await secrets.get(`${clusterId}/replication`))!;
    await cloneFollower({
      major: 15,
      dataDir: follower.dataDir,
      port: follower.port,
      plan,
      slotName: slot,
      leader: { host: '127.0.0.1', port: leader.port, user: 'replicator', password },
    });
    await runtime.start(follower.nodeId);

    const st = await nodeStatus(superuser(follower));
    expect(st.inRecovery).toBe(true);
    expect(st.timeline).toBe(1);
    await query(leader, "INSERT INTO items VALUES (2, 'replicated')");
    const rows = await eventually(
      () => query<{ id: number }>(follower, 'SELECT id FROM items ORDER BY id'),
      (r) => r.length === 2,
    );
    expect(rows).toEqual([{ id: 1 }, { id: 2 }]);

    const passfile = join(follower.dataDir, FOLLOWER_PASSFILE);
    expect(statSync(passfile).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(follower.dataDir, 'postgresql.auto.conf'), 'utf8')).not.toContain(password);
    expect(readFileSync(join(follower.dataDir, 'postgresql.conf'), 'utf8')).toContain(`port = ${follower.port}`);
  });

  it('redoes an interrupted clone, dropping the slot it left on the leader', async () => {
    const password = (await secrets.get(`${clusterId}/replication`))!;
    await withClient(superuser(leader), (q) => q.query("SELECT pg_create_physical_replication_slot('follower_2')"));
    const n = await runtime.create({ clusterId, nodeId: 'interrupted', major: 15, port: await freePort() });
    writeFileSync(join(n.dataDir, 'PG_VERSION'), '15\n'); // a clone killed half-way
    const input = {
      major: 15,
      dataDir: n.dataDir,
      port: n.port,
      plan,
      slotName: 'follower_2',
      leader: { host: '127.0.0.1', port: leader.port, user: 'replicator', password },
    };
    await cloneFollower(input);
    await cloneFollower(input); // complete: only reconfigured
    await runtime.start(n.nodeId);
    // The WAL receiver starts a moment after the server accepts connections.
    const receiver = await eventually(
      async () => (await nodeStatus(superuser(n))).receiver,
      (r) => r !== undefined,
    );
    expect(receiver).toMatchObject({ slotName: 'follower_2' });
    await runtime.remove(n.nodeId);
    await withClient(superuser(leader), (q) => q.query("SELECT pg_drop_replication_slot('follower_2')"));
  });

  it('reports timeline, standbys and lag, and makes commits synchronous to the follower', async () => {
    const st = await eventually(
      () => nodeStatus(superuser(leader)),
      (s) => s.standbys.length === 1,
    );
    expect(st).toMatchObject({ inRecovery: false, timeline: 1 });
    expect(st.standbys[0]).toMatchObject({ applicationName: slot, state: 'streaming', syncState: 'async' });
    expect(st.standbys[0]!.lagBytes).toBeGreaterThanOrEqual(0);

    expect(await setSynchronousStandbys(superuser(leader), [slot])).toBe(`ANY 1 ("${slot}")`);
    const sync = await eventually(
      () => nodeStatus(superuser(leader)),
      (s) => s.standbys[0]?.syncState === 'quorum',
    );
    expect(sync.synchronousStandbyNames).toBe(`ANY 1 ("${slot}")`);

    // With the follower down, a commit on the leader waits for it: proof that commits are synchronous.
    await runtime.stop(follower.nodeId);
    const writer = await appClient(leader);
    const commit = writer.query("INSERT INTO items VALUES (3, 'synchronous')");
    const waiting = await eventually(
      () =>
        withClient(
          superuser(leader),
          async (q) =>
            (await q.query(`SELECT wait_event FROM pg_stat_activity WHERE usename = 'app' AND query LIKE 'INSERT%'`))
              .rows,
        ),
      (rows) => rows[0]?.wait_event === 'SyncRep',
    );
    expect(waiting).toEqual([{ wait_event: 'SyncRep' }]);
    await runtime.start(follower.nodeId);
    await commit;
    await writer.end();
    expect(await query(follower, 'SELECT note FROM items WHERE id = 3')).toEqual([{ note: 'synchronous' }]);

    const fst = await nodeStatus(superuser(follower));
    expect(fst.receiver).toMatchObject({ status: 'streaming', slotName: slot, senderPort: leader.port });
    expect(fst.replayLagBytes).toBeGreaterThanOrEqual(0);
  });

  it('treats start of a running node and stop of a stopped node as no-ops', async () => {
    const before = await runtime.status(follower.nodeId);
    expect((await runtime.start(follower.nodeId)).pid).toBe(before.pid);
    await runtime.stop(follower.nodeId);
    await runtime.stop(follower.nodeId, 'immediate');
    expect((await runtime.status(follower.nodeId)).state).toBe('stopped');
    expect(processesIn(follower.dataDir)).toEqual([]);
    // Two runtimes starting the same stopped node at once: one server, both get its pid.
    const [a, b] = await Promise.all([
      runtime.start(follower.nodeId),
      createProcessRuntime({ home }).start(follower.nodeId),
    ]);
    expect(a.pid).toBe(b.pid);
    expect(a.pid).not.toBe(before.pid);
    expect(postmasters(follower.dataDir)).toEqual([a.pid]);
  });

  it('lets a second runtime over the same home see the running node without starting another server', async () => {
    const other = createProcessRuntime({ home });
    const mine = await runtime.status(leader.nodeId);
    expect(await other.status(leader.nodeId)).toMatchObject({ state: 'running', pid: mine.pid });
    expect(await other.start(leader.nodeId)).toEqual({ pid: mine.pid });
    expect((await other.list(clusterId)).map((n) => n.state)).toEqual(['running', 'running']);
    expect(postmasters(leader.dataDir)).toEqual([mine.pid]);
  });

  it('recovers a leader killed with SIGKILL on the next start, keeping committed rows', async () => {
    const { pid } = await runtime.status(leader.nodeId);
    await runtime.kill9(leader.nodeId);
    expect((await runtime.status(leader.nodeId)).state).toBe('stopped');
    const restarted = await runtime.start(leader.nodeId);
    expect(restarted.pid).not.toBe(pid);
    expect(postmasters(leader.dataDir)).toEqual([restarted.pid]);
    expect(await query(leader, 'SELECT count(*)::int AS n FROM items')).toEqual([{ n: 3 }]);
    const rows = await eventually(
      () => query<{ id: number }>(follower, 'SELECT id FROM items ORDER BY id'),
      (r) => r.length === 3,
    );
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3]);
  });

  it('fences a leader at its shutdown checkpoint, which its follower receives; stop and start finish it', async () => {
    await eventually(
      () => nodeStatus(superuser(leader)),
      (st) => st.standbys.some((x) => x.state === 'streaming'),
    );
    const { checkpoint } = await runtime.fence(leader.nodeId);
    expect(checkpoint).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect((await runtime.controlData(leader.nodeId))['Database cluster state']).toBe('shut down');
    await expect(withClient(superuser(leader), (q) => q.query('SELECT 1'))).rejects.toThrow();
    const received = `SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '${checkpoint}'::pg_lsn) > 0 AS ok`;
    await eventually(
      () => withClient(superuser(follower), async (q) => (await q.query(received)).rows[0]?.ok === true),
      (ok) => ok,
    );
    expect(await runtime.fence(leader.nodeId)).toEqual({ checkpoint });
    await runtime.stop(leader.nodeId);
    expect((await runtime.status(leader.nodeId)).state).toBe('stopped');
    await runtime.start(leader.nodeId);
    expect(await query(leader, 'SELECT count(*)::int AS n FROM items')).toEqual([{ n: 3 }]);
  });

  it('runs commands in the node context as the postgres OS user', async () => {
    const who = await runtime.exec(leader.nodeId, 'psql', ['-tAc', "SELECT current_user, current_setting('port')"]);
    expect(who.code).toBe(0);
    expect(who.stdout.trim()).toBe(`postgres|${leader.port}`);
    const id = await runtime.exec(leader.nodeId, 'id', ['-un']);
    expect(id.stdout.trim()).toBe('postgres');
  });

  it('keeps passwords out of server logs and configuration files', async () => {
    const passwords = [(await secrets.get(`${clusterId}/app`))!, (await secrets.get(`${clusterId}/replication`))!];
    for (const n of [leader, follower]) {
      const files = [
        join(n.dataDir, 'postgresql.conf'),
        join(n.dataDir, 'postgresql.auto.conf'),
        join(n.dataDir, 'pg_hba.conf'),
        join(n.dataDir, 'log', 'postgresql.log'),
        join(home, 'clusters', clusterId, n.nodeId, 'pg_ctl.log'),
      ].filter((f) => existsSync(f));
      expect(files.length).toBeGreaterThanOrEqual(4);
      for (const f of files) for (const p of passwords) expect(readFileSync(f, 'utf8')).not.toContain(p);
    }
  });

  it('accepts an identical create and refuses a conflicting one', async () => {
    expect(await runtime.create({ clusterId, nodeId: leader.nodeId, major: 15, port: leader.port })).toEqual(leader);
    await expect(
      runtime.create({ clusterId, nodeId: leader.nodeId, major: 13, port: leader.port }),
    ).rejects.toMatchObject({ code: 'NODE_EXISTS' });
  });

  it('reports why a node fails to start', async () => {
    const busy: Server = createServer();
    const port = await freePort();
    await new Promise<void>((r) => busy.listen(port, '127.0.0.1', r));
    try {
      const n = await runtime.create({ clusterId, nodeId: 'port-clash', major: 15, port });
      await expect(runtime.start(n.nodeId)).rejects.toMatchObject({ code: 'NOT_INITIALIZED' });
      await initNode({ major: 15, dataDir: n.dataDir, port, plan });
      await expect(runtime.start(n.nodeId)).rejects.toMatchObject({
        code: 'START_FAILED',
        message: expect.stringMatching(/could not bind|Address already in use|could not create any TCP\/IP sockets/),
      });
      await runtime.remove(n.nodeId);
    } finally {
      busy.close();
    }
  });

  it('removes nodes: no data directory, postgres process or tool a killed service left on it remains', async () => {
    // As an initdb or a cp of a service killed with SIGKILL would: still writing into the node's directory.
    const leftover = spawn('sh', ['-c', `while :; do touch ${join(leader.dataDir, 'leftover')}; sleep 0.05; done`], {
      detached: true,
      stdio: 'ignore',
    });
    const ended = new Promise((r) => leftover.once('exit', r));
    for (const n of [follower, leader]) {
      await runtime.remove(n.nodeId);
      expect(existsSync(n.dataDir)).toBe(false);
      expect(existsSync(n.socketDir)).toBe(false);
      expect(processesIn(n.dataDir)).toEqual([]);
      expect(await runtime.status(n.nodeId)).toEqual({ state: 'missing' });
    }
    expect(await runtime.list(clusterId)).toEqual([]);
    expect(existsSync(join(home, 'clusters', clusterId))).toBe(false);
    await ended;
    expect(leftover.signalCode).toBe('SIGKILL');
    await runtime.remove(leader.nodeId);
  });
});
