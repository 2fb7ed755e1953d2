import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldClusterView, foldGateways, streamIds, type ClusterView } from '@pgfleet/contracts';
import { createPostgresEventStore, type EventStore } from '@pgfleet/eventstore';
import { psql, sleep, startPlatform, waitFor, type TestPlatform } from './harness.js';

/**
 * Plan change as an operation, end to end on real PostgreSQL, HAProxy and NATS, through the CLI a
 * user runs: Starter -> Business and back while an application writes through the one URL, a
 * resize within Business (a rolling restart whose leader restart is a switchover), and the plan
 * changes that are refused.
 */

let t: TestPlatform;
let store: EventStore;
let clusterId: string;
let url: string;

const NAME = 'plans';
const view = async (): Promise<ClusterView> =>
  foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events);
const gateways = async () => foldGateways((await store.readStream(streamIds.gateway(clusterId))).events);
/** The same URL the CLI prints, to one node instead of the gateway. */
const nodeUrl = (port: number) => url.replace(/@[^/]+\//, `@127.0.0.1:${port}/`);

interface Ack {
  client: number;
  seq: number;
  at: number;
}

let loads = 0;

/** `clients` writers through the URL, each logging every acknowledged commit and every failed one. */
function writeLoad(clients = 8) {
  const first = 100 * loads++; // client numbers of their own: rows of an earlier load stay unique
  const acks: Ack[] = [];
  const errors: string[] = [];
  let stopped = false;
  const run = async (client: number) => {
    let seq = 0;
    while (!stopped) {
      const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000, query_timeout: 5000 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        while (!stopped) {
          seq += 1;
          await c.query('INSERT INTO acked (client, seq) VALUES ($1, $2)', [client, seq]);
          acks.push({ client, seq, at: Date.now() });
        }
      } catch (error) {
        errors.push(`${new Date().toISOString()} client ${client}: ${(error as Error).message}`);
        await sleep(50);
      } finally {
        await Promise.race([c.end().catch(() => undefined), sleep(500)]);
      }
    }
  };
  const loops = Array.from({ length: clients }, (_, i) => run(first + i));
  return {
    acks,
    errors,
    /** The longest time one client went without an acknowledged write. */
    longestGapMs(): number {
      let longest = 0;
      for (let client = first; client < first + clients; client++) {
        const at = acks.filter((a) => a.client === client).map((a) => a.at);
        for (let i = 1; i < at.length; i++) longest = Math.max(longest, at[i]! - at[i - 1]!);
      }
      return longest;
    },
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** `pgfleet cluster plan NAME --plan PLAN` as a user runs it; fails the test with what it printed. */
async function changePlan(plan: string): Promise<void> {
  const r = await t.cli('cluster', 'plan', NAME, '--plan', plan);
  if (r.code !== 0) {
    const logs = t.logs.filter((l) => /\[(networking|provisioning)\]/.test(l)).slice(-20);
    throw new Error(`cluster plan exited ${r.code}: ${r.stderr}\nservice logs:\n${logs.join('\n')}`);
  }
  console.log(`pgfleet cluster plan ${NAME} --plan ${plan}:\n${r.stderr}${r.stdout}`);
}

beforeAll(async () => {
  t = await startPlatform();
  store = createPostgresEventStore({ connectionString: t.platform.eventstoreUrl });
  const created = await t.cli('cluster', 'create', NAME, '--plan', 'starter-512', '--no-wait', '--json');
  if (created.code !== 0) throw new Error(created.stderr);
  clusterId = (JSON.parse(created.stdout) as { result: { clusterId: string } }).result.clusterId;
  await waitFor('the cluster to be ready', async () => (await view()).status === 'ready' || undefined, 120_000);
  await waitFor('the URL', async () => (await t.cli('cluster', 'url', NAME)).code === 0 || undefined, 60_000);
  url = (await t.cli('cluster', 'url', NAME)).stdout.trim();
  psql(url, 'CREATE TABLE acked (client int, seq int, PRIMARY KEY (client, seq))');
}, 180_000);

afterAll(async () => {
  await store?.close().catch(() => undefined);
  await t?.cleanup();
});

describe('plan change', () => {
  it('Starter -> Business under 8 writers: no write fails; 3 nodes, last row on followers, 2 gateways', async () => {
    const load = writeLoad();
    try {
      await waitFor('writes before the change', () => load.acks.length > 50 || undefined, 30_000);
      await changePlan('business-1024');
      await sleep(500);
    } finally {
      await load.stop();
    }
    expect(load.errors).toEqual([]);

    const v = await view();
    expect(v.plan).toBe('business-1024');
    expect(v.nodes).toHaveLength(3);
    expect(v.nodes.every((n) => n.started)).toBe(true);
    const last = load.acks.at(-1)!;
    for (const f of v.nodes.filter((n) => n.nodeId !== v.leader)) {
      const sql = `SELECT count(*) FROM acked WHERE client = ${last.client} AND seq = ${last.seq}`;
      await waitFor(`the last row on ${f.nodeId}`, () => psql(nodeUrl(f.port!), sql) === '1' || undefined, 10_000);
      expect(psql(nodeUrl(f.port!), 'SELECT pg_is_in_recovery()')).toBe('t');
    }
    const leaderPort = v.nodes.find((n) => n.nodeId === v.leader)!.port!;
    expect(psql(nodeUrl(leaderPort), "SELECT current_setting('synchronous_standby_names')")).toMatch(/^ANY 1 \(/);
    expect((await gateways()).gateways.map((g) => g.gatewayId).sort()).toEqual(['gw1', 'gw2']);
    expect((await t.cli('cluster', 'url', NAME)).stdout.trim()).toBe(url);
  }, 180_000);

  it('resize within Business under 8 writers: followers, a switchover, the old leader; interruption', async () => {
    const before = await view();
    const load = writeLoad();
    try {
      await waitFor('writes before the resize', () => load.acks.length > 50 || undefined, 30_000).catch((e: Error) => {
        throw new Error(`${e.message}: ${load.errors.slice(-5).join('\n')}`);
      });
      await changePlan('business-2048');
      await sleep(500);
    } finally {
      await load.stop();
    }
    const longest = load.longestGapMs();
    console.log(`resize business-1024 -> business-2048: longest interruption a client saw ${longest} ms`);
    console.log(`writer errors during the resize (${load.errors.length}):\n${load.errors.slice(0, 10).join('\n')}`);

    const v = await view();
    expect(v.plan).toBe('business-2048');
    expect(v.nodes).toHaveLength(3);
    expect(v.leader).not.toBe(before.leader); // the leader's restart was a switchover
    for (const n of v.nodes) expect(psql(nodeUrl(n.port!), "SELECT current_setting('max_connections')")).toBe('200');
    expect(longest).toBeLessThan(15_000);
    expect((await t.cli('cluster', 'url', NAME)).stdout.trim()).toBe(url);
  }, 180_000);

  it('Business -> Starter: one node, one gateway, every row still there, the same URL', async () => {
    const rows = psql(url, 'SELECT count(*) FROM acked');
    await changePlan('starter-512');
    const v = await view();
    expect(v.plan).toBe('starter-512');
    expect(v.nodes.map((n) => n.nodeId)).toEqual([v.leader]);
    expect((await gateways()).gateways.map((g) => g.gatewayId)).toEqual(['gw1']);
    expect(psql(url, 'SELECT count(*) FROM acked')).toBe(rows);
    expect(psql(url, "SELECT current_setting('synchronous_standby_names')")).toBe('');
    expect(psql(url, 'SELECT count(*) FROM pg_replication_slots')).toBe('0');
    expect((await t.cli('cluster', 'url', NAME)).stdout.trim()).toBe(url);
  }, 120_000);

  it('an unknown plan and the same plan are refused in one sentence each, and nothing is recorded', async () => {
    const version = (await view()).version_;
    const unknown = await t.cli('cluster', 'plan', NAME, '--plan', 'business-9');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr.trim()).toMatch(/^.*unknown plan business-9; the plans are sandbox, starter-512/);
    const same = await t.cli('cluster', 'plan', NAME, '--plan', 'starter-512');
    expect(same.code).not.toBe(0);
    expect(same.stderr.trim()).toMatch(/cluster plans is already on plan starter-512/);
    expect((await view()).version_).toBe(version);
  });
});
