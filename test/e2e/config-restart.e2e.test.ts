import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldClusterView, streamIds, type ClusterView } from '@pgfleet/contracts';
import { createPostgresEventStore, type EventStore } from '@pgfleet/eventstore';
import {
  nodeDataDirs,
  postmastersUnder,
  psql,
  sleep,
  startPlatform,
  waitFor,
  writeLoad,
  type CliResult,
  type TestPlatform,
} from './harness.js';

/**
 * PostgreSQL parameters through the API and the rolling restart, end to end on real PostgreSQL,
 * HAProxy and NATS, through the CLI a user runs: a parameter PostgreSQL reloads is applied without a
 * restart, one it applies only at a restart restarts the node, bad parameters are refused in one
 * sentence with nothing recorded, `audit --at` shows the configuration of an instant, and a rolling
 * restart of a Business cluster under writes interrupts them only for its switchover.
 */

let t: TestPlatform;
let store: EventStore;
const ids: Record<string, string> = {};
const urls: Record<string, string> = {};

const STARTER = 'cfg';
const BUSINESS = 'rolling';
const view = async (name: string): Promise<ClusterView> =>
  foldClusterView((await store.readStream(streamIds.cluster(ids[name]!))).events);
/** The same URL the CLI prints, to one node instead of the gateway. */
const nodeUrl = (name: string, port: number) => urls[name]!.replace(/@[^/]+\//, `@127.0.0.1:${port}/`);
/** The postmaster of the Starter cluster's one node, as /proc shows it. */
const postmaster = (): number[] => postmastersUnder(nodeDataDirs(t.home, ids[STARTER])[0]!);

/** `pgfleet ...` that must succeed; prints what it printed, fails the test with the services' logs otherwise. */
async function cli(...args: string[]): Promise<CliResult> {
  const r = await t.cli(...args);
  if (r.code !== 0) {
    const logs = t.logs.filter((l) => /\[(provisioning|networking|ha)\]/.test(l)).slice(-20);
    throw new Error(`pgfleet ${args.join(' ')} exited ${r.code}: ${r.stderr}\nservice logs:\n${logs.join('\n')}`);
  }
  console.log(`pgfleet ${args.join(' ')}:\n${r.stderr}${r.stdout}`);
  return r;
}

async function create(name: string, plan: string): Promise<void> {
  const created = await cli('cluster', 'create', name, '--plan', plan, '--no-wait', '--json');
  ids[name] = (JSON.parse(created.stdout) as { result: { clusterId: string } }).result.clusterId;
}

async function ready(name: string): Promise<void> {
  await waitFor(`${name} to be ready`, async () => (await view(name)).status === 'ready' || undefined, 240_000);
  await waitFor(
    `the URL of ${name}`,
    async () => (await t.cli('cluster', 'url', name)).code === 0 || undefined,
    60_000,
  );
  urls[name] = (await t.cli('cluster', 'url', name)).stdout.trim();
}

beforeAll(async () => {
  t = await startPlatform();
  store = createPostgresEventStore({ connectionString: t.platform.eventstoreUrl });
  await create(STARTER, 'starter-512');
  await create(BUSINESS, 'business-1024');
  await ready(STARTER);
  await ready(BUSINESS);
}, 360_000);

afterAll(async () => {
  await store?.close().catch(() => undefined);
  await t?.cleanup();
});

describe('PostgreSQL parameters', () => {
  it('config set work_mem=64MB on Starter reloads: the same postmaster, SHOW work_mem 64MB via the URL', async () => {
    const before = postmaster();
    expect(before).toHaveLength(1);
    const r = await cli('config', 'set', STARTER, 'work_mem=64MB');
    expect(r.stdout).toMatch(/work_mem plan default -> 64MB; applied with a reload, no restart/);
    expect(psql(urls[STARTER]!, 'SHOW work_mem')).toBe('64MB');
    expect(postmaster()).toEqual(before);
    expect((await view(STARTER)).parameters).toEqual({ work_mem: '64MB' });
    const shown = JSON.parse((await cli('config', 'show', STARTER, '--json')).stdout) as {
      parameters: { name: string; value: string | null; applies: string }[];
    };
    expect(shown.parameters.find((p) => p.name === 'work_mem')).toMatchObject({ value: '64MB', applies: 'reload' });
    expect(shown.parameters.find((p) => p.name === 'shared_buffers')).toMatchObject({
      value: null,
      applies: 'restart',
    });
  }, 120_000);

  it('config set shared_buffers=192MB on Starter restarts it in place: a new postmaster, work_mem kept', async () => {
    const before = postmaster();
    const r = await cli('config', 'set', STARTER, 'shared_buffers=192MB', '--json');
    const reply = JSON.parse(r.stdout) as { result: { restarted: boolean; pendingRestart: string[] } };
    expect(reply.result).toMatchObject({ restarted: true, pendingRestart: ['shared_buffers'] });
    await waitFor('the URL after the restart', () => {
      try {
        return psql(urls[STARTER]!, 'SHOW shared_buffers');
      } catch {
        return undefined;
      }
    });
    expect(psql(urls[STARTER]!, 'SHOW shared_buffers')).toBe('192MB');
    expect(psql(urls[STARTER]!, 'SHOW work_mem')).toBe('64MB');
    const after = postmaster();
    expect(after).toHaveLength(1);
    expect(after).not.toEqual(before);
  }, 120_000);

  it('unknown, not allowed, out of the plan bounds, wrong type: one sentence each, nothing recorded', async () => {
    const version = (await view(STARTER)).version_;
    const refused = async (assignment: string, sentence: RegExp) => {
      const r = await t.cli('config', 'set', STARTER, assignment);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(sentence);
    };
    await refused('work_mam=64MB', /^error: unknown parameter work_mam: PostgreSQL has no such parameter; /);
    await refused('wal_level=minimal', /^error: wal_level is not a parameter you may set \(the platform manages it\)/);
    await refused(
      'shared_buffers=1GB',
      /^error: shared_buffers=1GB is out of bounds: shared_buffers must be 16MB to 256MB on plan starter-512$/,
    );
    await refused('max_connections=500', /max_connections must be 10 to 60 on plan starter-512$/);
    await refused('work_mem=lots', /^error: work_mem=lots is not valid: work_mem takes a memory size with a unit/);
    await refused('work_mem', /^error: expected key=value \(e\.g\. work_mem=64MB\), got work_mem$/);
    expect((await view(STARTER)).version_).toBe(version);
    expect(psql(urls[STARTER]!, 'SHOW work_mem')).toBe('64MB');
  }, 60_000);

  it('audit --at shows the configuration of that instant', async () => {
    const events = (await store.readStream(streamIds.cluster(ids[STARTER]!))).events;
    const changed = events.filter((e) => e.type === 'ClusterParametersChanged');
    expect(changed).toHaveLength(2);
    const at = (e: (typeof changed)[number], ms: number) => new Date(Date.parse(e.occurredAt) + ms).toISOString();
    const before = JSON.parse((await cli('audit', STARTER, '--at', at(changed[0]!, -1), '--json')).stdout);
    const between = JSON.parse((await cli('audit', STARTER, '--at', at(changed[0]!, 1), '--json')).stdout);
    const now = await cli('audit', STARTER, '--at', new Date().toISOString());
    expect(before.parameters).toEqual({});
    expect(between.parameters).toEqual({ work_mem: '64MB' });
    expect(now.stdout).toMatch(/parameters: work_mem=64MB, shared_buffers=192MB/);
  }, 60_000);
});

describe('rolling restart', () => {
  it('Business under 8 writers: followers, a switchover, the old leader (a follower now); all run', async () => {
    const before = await view(BUSINESS);
    psql(urls[BUSINESS]!, 'CREATE TABLE acked (client int, seq int, PRIMARY KEY (client, seq))');
    const load = writeLoad(urls[BUSINESS]!);
    let r: CliResult;
    try {
      await waitFor('writes before the restart', () => load.acks.length > 50 || undefined, 30_000).catch((e: Error) => {
        throw new Error(`${e.message}: ${load.errors.slice(-5).join('\n')}`);
      });
      r = await cli('cluster', 'restart', BUSINESS, '--json');
      await sleep(500);
    } finally {
      await load.stop();
    }
    console.log(`cluster restart ${BUSINESS}: longest interruption a client saw ${load.longestGapMs()} ms`);
    console.log(`writer errors during the restart (${load.errors.length}):\n${load.errors.slice(0, 10).join('\n')}`);

    const recorded = (JSON.parse(r.stdout) as { steps: { step: string; at: string }[] }).steps;
    const steps = recorded.map((s) => s.step);
    const followers = before.nodes.filter((n) => n.nodeId !== before.leader).map((n) => n.nodeId);
    // The followers' restarts interrupt no writer: the first failed write comes with the switchover.
    const lastFollowerRestarted = Date.parse(recorded.find((s) => s.step === `restart-${followers.at(-1)}`)!.at);
    const failedAt = load.errors.map((e) => Date.parse(e.slice(0, e.indexOf(' '))));
    expect(failedAt.filter((at) => at < lastFollowerRestarted)).toEqual([]);
    const restarts = steps.filter((s) => s.startsWith('restart-'));
    expect(restarts).toEqual([...followers.map((f) => `restart-${f}`), `restart-${before.leader}`]);
    expect(steps).toContain('switchover-promote');
    const v = await view(BUSINESS);
    expect(v.leader).toBe(followers[0]);
    expect(v.nodes.every((n) => n.started)).toBe(true);
    for (const n of v.nodes) {
      const inRecovery = psql(nodeUrl(BUSINESS, n.port!), 'SELECT pg_is_in_recovery()');
      expect(inRecovery).toBe(n.nodeId === v.leader ? 'f' : 't');
    }
    const leaderPort = v.nodes.find((n) => n.nodeId === v.leader)!.port!;
    const sync = psql(nodeUrl(BUSINESS, leaderPort), "SELECT current_setting('synchronous_standby_names')");
    expect(sync).toMatch(/^ANY 1 \(/);
    // Both followers stream from the new leader: the last acknowledged row reaches each.
    const last = load.acks.at(-1)!;
    const sql = `SELECT count(*) FROM acked WHERE client = ${last.client} AND seq = ${last.seq}`;
    for (const f of v.nodes.filter((n) => n.nodeId !== v.leader)) {
      await waitFor(
        `the last row on ${f.nodeId}`,
        () => psql(nodeUrl(BUSINESS, f.port!), sql) === '1' || undefined,
        10_000,
      );
    }
  }, 240_000);
});
