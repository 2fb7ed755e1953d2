import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldClusterView, runtimeNodeId, streamIds, type ClusterView } from '@pgfleet/contracts';
import { createPostgresEventStore, type EventStore } from '@pgfleet/eventstore';
import { liveProcesses, nodeDataDirs, psql, sleep, startPlatform, waitFor, type TestPlatform } from './harness.js';

/**
 * Automatic failover, end to end on real PostgreSQL, HAProxy and NATS, with two HA replicas: the
 * leader killed (kill -9) or frozen (SIGSTOP of its whole process group) under a write load of 8
 * clients that log every commit the server acknowledged. A follower is promoted, the URL takes
 * writes again, every acknowledged row is on the new leader, exactly one FailoverStarted per lost
 * leader, and the old leader rejoins as a follower (pg_rewind).
 */

const HA_ENTRY = fileURLToPath(new URL('../../services/ha/dist/main.js', import.meta.url));

let t: TestPlatform;
let store: EventStore;
let clusterId: string;
let url: string;
let secondHa: ChildProcess | undefined;
const frozen = new Set<number>();

const view = async (): Promise<ClusterView> =>
  foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events);
/** The data of the cluster's events of one type (read as plain records: the test looks at a few fields). */
const eventsOf = async (type: string): Promise<{ data: Record<string, unknown> }[]> =>
  (await store.readStream(streamIds.cluster(clusterId))).events
    .filter((e) => e.type === type)
    .map((e) => ({ data: e.data as Record<string, unknown> }));

/** The postmaster pid of a node, from its data directory. */
function postmasterPid(nodeId: string): number {
  const dir = nodeDataDirs(t.home, clusterId).find((d) => d.includes(`${runtimeNodeId(clusterId, nodeId)}/`));
  if (!dir) throw new Error(`no data directory for ${nodeId}`);
  return Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

/** A server and every one of its processes (PostgreSQL puts each child in a process group of its own). */
function serverProcesses(postmaster: number): number[] {
  const children = liveProcesses()
    .filter((p) => p.ppid === postmaster)
    .map((p) => p.pid);
  return [postmaster, ...children];
}

/** Freeze (SIGSTOP) or thaw (SIGCONT) a whole server: a hung machine, as far as its peers can tell. */
function signalServer(postmaster: number, signal: 'SIGSTOP' | 'SIGCONT'): void {
  for (const pid of serverProcesses(postmaster)) {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

interface Ack {
  client: number;
  seq: number;
  port: number;
  at: number;
}

/** 8 clients writing through the URL, each logging every commit the server acknowledged. */
function writeLoad(clients = 8) {
  const acks: Ack[] = [];
  const errors: string[] = [];
  let stopped = false;
  const run = async (client: number) => {
    let seq = 0;
    while (!stopped) {
      const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000, query_timeout: 2000 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        while (!stopped) {
          seq += 1;
          const r = await c.query<{ port: number }>(
            "INSERT INTO acked (client, seq) VALUES ($1, $2) RETURNING current_setting('port')::int AS port",
            [client, seq],
          );
          acks.push({ client, seq, port: r.rows[0]!.port, at: Date.now() });
        }
      } catch (error) {
        errors.push(`${new Date().toISOString()} client ${client}: ${(error as Error).message}`);
        if (errors.length > 20) errors.shift();
        await sleep(100);
      } finally {
        // A frozen server never answers the goodbye: do not wait for it.
        await Promise.race([c.end().catch(() => undefined), sleep(500)]);
      }
    }
  };
  const loops = Array.from({ length: clients }, (_, i) => run(i));
  return {
    acks,
    /** Wait for `n` acknowledged writes; on a timeout, say why the writers failed and what the leader saw. */
    async until(what: string, probe: () => boolean, timeoutMs = 60_000) {
      await waitFor(what, () => probe() || undefined, timeoutMs).catch(async (error: Error) => {
        throw new Error(`${error.message}\nlast writer errors:\n${errors.join('\n')}\n${await diagnose()}`);
      });
    },
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** The recorded nodes, and what the recorded leader says of its replication (for a failure message). */
async function diagnose(): Promise<string> {
  const v = await view();
  const lines = [`view: leader ${v.leader}, term ${v.term}, ops running ${JSON.stringify(v.ops.running)}`];
  lines.push(`nodes: ${JSON.stringify(v.nodes)}`);
  const port = v.nodes.find((n) => n.nodeId === v.leader)?.port;
  const direct = url.replace(/@[^/]+\//, `@127.0.0.1:${port}/`);
  for (const sql of [
    "SELECT pg_is_in_recovery(), current_setting('synchronous_standby_names'), current_setting('port')",
    'SELECT application_name, state, sync_state, replay_lsn FROM pg_stat_replication',
    'SELECT pid, state, wait_event_type, wait_event, left(query, 60) FROM pg_stat_activity ' +
      "WHERE backend_type = 'client backend'",
  ]) {
    try {
      lines.push(`${sql}\n${psql(direct, sql)}`);
    } catch (error) {
      lines.push(`${sql}: ${(error as Error).message}`);
    }
  }
  return lines.join('\n');
}

/** One statement through the URL, abandoned by the client after `ms`. */
async function insertWithin(ms: number, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: ms, query_timeout: ms });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query(sql);
  } finally {
    // A backend waiting for a follower does not answer the goodbye either.
    await Promise.race([c.end().catch(() => undefined), sleep(500)]);
  }
}

/** Rows acknowledged but missing on the node `port` (through its own superuser-free app URL). */
async function missingOn(port: number, acks: Ack[]): Promise<number> {
  const direct = url.replace(/@[^/]+\//, `@127.0.0.1:${port}/`);
  const rows = psql(direct, 'SELECT client || $$:$$ || seq FROM acked').split('\n');
  const present = new Set(rows);
  return acks.filter((a) => !present.has(`${a.client}:${a.seq}`)).length;
}

/** Kill or freeze the leader under load; returns the new leader and the recovery time. */
async function loseLeaderUnderLoad(how: 'kill' | 'freeze') {
  const before = await view();
  const oldLeader = before.leader!;
  const oldPort = before.nodes.find((n) => n.nodeId === oldLeader)!.port!;
  const load = writeLoad();
  await load.until('writes before the loss', () => load.acks.length > 50);
  const pid = postmasterPid(oldLeader);
  const lostAt = Date.now();
  if (how === 'kill') process.kill(pid, 'SIGKILL');
  else {
    signalServer(pid, 'SIGSTOP'); // the whole server: postmaster, backends, walsenders
    frozen.add(pid);
  }
  const first = await waitFor(
    'an acknowledged write on another node',
    () => load.acks.find((a) => a.at > lostAt && a.port !== oldPort),
    60_000,
  );
  await sleep(1000);
  await load.stop();
  const after = await waitFor(
    'the failover to be recorded',
    async () => {
      const v = await view();
      return v.leader !== oldLeader && !v.ops.running ? v : undefined;
    },
    60_000,
  );
  const newPort = after.nodes.find((n) => n.nodeId === after.leader)!.port!;
  expect(first.port).toBe(newPort);
  return { oldLeader, pid, newLeader: after.leader!, newPort, acks: load.acks, recoveryMs: first.at - lostAt };
}

/** A second HA replica beside the one `up` runs: the failovers must still happen once. */
async function startSecondHa(): Promise<void> {
  const env = {
    ...t.env,
    // Its own NATS credentials: the platform's NATS server is closed by default.
    ...(await t.platform.natsEnv('ha')),
    PGFLEET_NATS_URL: t.platform.natsUrl,
    PGFLEET_EVENTSTORE_URL: t.platform.eventstoreUrl,
    PGFLEET_HA_AGENT: `127.0.0.1:${t.env.PGFLEET_HA_AGENT_PORT}`,
  };
  secondHa = spawn(process.execPath, [HA_ENTRY], { env, stdio: 'ignore' });
}

/** Healthy again: every node healthy, none fenced, no operation running. */
const settled = () =>
  waitFor(
    'the cluster to settle',
    async () => {
      const v = await view();
      return v.nodes.every((n) => n.health === 'healthy' && !n.fenced) && !v.ops.running ? v : undefined;
    },
    120_000,
  );

beforeAll(async () => {
  t = await startPlatform();
  store = createPostgresEventStore({ connectionString: t.platform.eventstoreUrl });
  await startSecondHa();
  const created = await t.cli('cluster', 'create', 'hafail', '--plan', 'business-1024', '--no-wait', '--json');
  if (created.code !== 0) throw new Error(created.stderr);
  clusterId = (JSON.parse(created.stdout) as { result: { clusterId: string } }).result.clusterId;
  await waitFor('the cluster to be ready', async () => (await view()).status === 'ready' || undefined, 180_000);
  await waitFor('the URL', async () => (await t.cli('cluster', 'url', 'hafail')).code === 0 || undefined, 60_000);
  url = (await t.cli('cluster', 'url', 'hafail')).stdout.trim();
  psql(url, 'CREATE TABLE acked (client int, seq int, PRIMARY KEY (client, seq))');
}, 300_000);

afterAll(async () => {
  for (const pid of frozen) signalServer(pid, 'SIGCONT');
  secondHa?.kill('SIGKILL');
  await store?.close().catch(() => undefined);
  await t?.cleanup();
});

describe('automatic failover with two HA replicas', () => {
  it('kill -9 of the leader under 8 writers: a follower promoted, every acknowledged row there, once', async () => {
    const r = await loseLeaderUnderLoad('kill');
    console.log(`kill -9: first acknowledged write on the new leader ${r.recoveryMs} ms after the kill`);
    expect(await missingOn(r.newPort, r.acks)).toBe(0);
    expect(await eventsOf('FailoverStarted')).toHaveLength(1);
    const changed = (await eventsOf('LeaderChanged')).at(-1)!;
    expect(changed.data).toMatchObject({ from: r.oldLeader, to: r.newLeader, reason: 'failover', term: 1 });

    // The old leader comes back by itself: rewound, following, and the cluster has three healthy nodes.
    const rejoined = await waitFor(
      'the old leader to rejoin',
      async () => (await eventsOf('NodeRejoined')).find((e) => e.data.nodeId === r.oldLeader),
      120_000,
    );
    expect(rejoined.data).toMatchObject({ leader: r.newLeader, method: 'rewind' });
    const healthy = await waitFor(
      'three healthy nodes',
      async () => {
        const v = await view();
        return v.nodes.every((n) => n.health === 'healthy' && !n.fenced) ? v : undefined;
      },
      60_000,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify((await view()).nodes)}`);
    });
    expect(healthy.nodes.filter((n) => n.role === 'leader').map((n) => n.nodeId)).toEqual([r.newLeader]);
    const direct = url.replace(/@[^/]+\//, `@127.0.0.1:${healthy.nodes.find((n) => n.nodeId === r.oldLeader)!.port}/`);
    expect(psql(direct, 'SELECT pg_is_in_recovery()')).toBe('t');
  });

  it('SIGSTOP of the leader under load: failover; woken up it takes no write via the URL, rejoins', async () => {
    const r = await loseLeaderUnderLoad('freeze');
    console.log(`SIGSTOP: first acknowledged write on the new leader ${r.recoveryMs} ms after the freeze`);
    expect(await missingOn(r.newPort, r.acks)).toBe(0);
    expect(await eventsOf('FailoverStarted')).toHaveLength(2);

    signalServer(r.pid, 'SIGCONT');
    frozen.delete(r.pid);
    // Writes through the URL after it woke up all land on the new leader.
    const ports = Array.from({ length: 20 }, () => Number(psql(url, "SELECT current_setting('port')")));
    expect(new Set(ports)).toEqual(new Set([r.newPort]));
    await waitFor(
      'the frozen leader to rejoin',
      async () =>
        (await eventsOf('NodeRejoined')).find((e) => e.data.nodeId === r.oldLeader && e.data.leader === r.newLeader),
      120_000,
    );
    const v = await view();
    expect(v.leader).toBe(r.newLeader);
    expect(v.term).toBe(2);
  });

  it('kill -9 of every HA process in the middle of a failover: after the restart it ends once, succeeded', async () => {
    const before = await settled();
    process.kill(postmasterPid(before.leader!), 'SIGKILL');
    await waitFor('the failover to start', async () => (await view()).term > before.term || undefined, 60_000);
    for (const s of t.platform.services()) if (s.name === 'ha' && s.pid) process.kill(s.pid, 'SIGKILL');
    secondHa?.kill('SIGKILL');
    await startSecondHa();
    const after = await waitFor(
      'the failover to end',
      async () => {
        const v = await view();
        const op = v.ops.operations.find((o) => o.operationId === v.lastFailover?.operationId);
        return op && op.status !== 'running' ? { v, op } : undefined;
      },
      120_000,
    );
    expect(after.op.status).toBe('succeeded');
    expect((await eventsOf('FailoverStarted')).filter((e) => e.data.term === before.term + 1)).toHaveLength(1);
    expect((await eventsOf('LeaderChanged')).filter((e) => e.data.term === before.term + 1)).toHaveLength(1);
    const port = after.v.nodes.find((n) => n.nodeId === after.v.leader)!.port;
    await waitFor('the URL to reach the new leader', () => {
      try {
        return Number(psql(url, "SELECT current_setting('port')")) === port || undefined;
      } catch {
        return undefined;
      }
    });
  });

  it('a follower killed under load: writes go on, no failover, and it is restarted in place', async () => {
    const before = await settled();
    const follower = before.nodes.find((n) => n.nodeId !== before.leader)!.nodeId;
    const load = writeLoad(4);
    await load.until('writes', () => load.acks.length > 20);
    process.kill(postmasterPid(follower), 'SIGKILL');
    const killedAt = Date.now();
    await load.until(
      'writes after the kill',
      () => load.acks.filter((a) => a.at > killedAt + 1000).length > 20,
      120_000,
    );
    await load.stop();
    await waitFor(
      'the follower to be restarted',
      async () => (await eventsOf('NodeRestarted')).some((e) => e.data.nodeId === follower) || undefined,
      60_000,
    );
    expect((await view()).term).toBe(before.term);
    expect(await missingOn(before.nodes.find((n) => n.nodeId === before.leader)!.port!, load.acks)).toBe(0);
  });

  it('both followers frozen: `strict` writes wait; `available` goes asynchronous, then back', async () => {
    const before = await settled();
    expect((await t.cli('cluster', 'durability', 'hafail', 'strict')).code).toBe(0);
    const followers = before.nodes.filter((n) => n.nodeId !== before.leader).map((n) => postmasterPid(n.nodeId));
    for (const pid of followers) {
      signalServer(pid, 'SIGSTOP');
      frozen.add(pid);
    }
    await sleep(8000); // past the replication timeouts and the grace: nothing degrades under `strict`
    // The commit waits for a follower: the client gives up first.
    await expect(insertWithin(3000, 'INSERT INTO acked VALUES (99, 1)')).rejects.toThrow(/timeout/i);
    expect(await eventsOf('SyncReplicationDegraded')).toHaveLength(0);
    expect((await t.cli('cluster', 'durability', 'hafail', 'available')).code).toBe(0);
    await waitFor(
      'synchronous replication to degrade',
      async () => (await eventsOf('SyncReplicationDegraded')).length > 0 || undefined,
      60_000,
    );
    psql(url, 'INSERT INTO acked VALUES (99, 2)');
    for (const pid of followers) {
      signalServer(pid, 'SIGCONT');
      frozen.delete(pid);
    }
    await waitFor(
      'synchronous replication to be restored',
      async () => (await eventsOf('SyncReplicationRestored')).length > 0 || undefined,
      60_000,
    );
    expect((await view()).term).toBe(before.term);
  });

  it('cluster url --readonly reaches a follower, and keeps working when one follower dies', async () => {
    const v = await settled();
    const shown = await t.cli('cluster', 'url', 'hafail', '--readonly');
    expect(shown.code).toBe(0);
    const readonly = shown.stdout.trim();
    expect(readonly).not.toBe(url);
    expect(psql(readonly, 'SELECT pg_is_in_recovery()')).toBe('t');
    const follower = v.nodes.find((n) => n.nodeId !== v.leader)!;
    process.kill(postmasterPid(follower.nodeId), 'SIGKILL');
    const tenReads = () => {
      try {
        return Array.from({ length: 10 }, () => psql(readonly, 'SELECT pg_is_in_recovery()')).every((r) => r === 't');
      } catch {
        return false;
      }
    };
    await waitFor('ten reads in a row on followers', () => tenReads() || undefined, 60_000);
  });
});
