import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldClusterView, runtimeNodeId, streamIds, type ClusterView } from '@pgfleet/contracts';
import { createPostgresEventStore, type EventStore } from '@pgfleet/eventstore';
import { withClient } from '@pgfleet/postgres';
import { createProcessRuntime } from '@pgfleet/runtime';
import {
  nodeDataDirs,
  postmastersUnder,
  psql,
  startPlatform,
  waitFor,
  type CliResult,
  type TestPlatform,
} from './harness.js';

/**
 * Extensions and the minor upgrade, end to end on real PostgreSQL, HAProxy and NATS, through the
 * CLI a user runs, on one Starter cluster (a node restarts in place, which keeps it short): the
 * platform creates an allow-listed extension the app role could not, pg_stat_statements is loaded
 * with a restart first, a refused extension changes nothing, disabling drops it (and unloads the
 * library), and `upgrade --minor` restarts onto the installed binaries, reporting server_version.
 */

let t: TestPlatform;
let store: EventStore;
let clusterId = '';
let url = '';

const NAME = 'ext';
const view = async (): Promise<ClusterView> =>
  foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events);
/** The postmaster of the cluster's one node, as /proc shows it. */
const postmaster = (): number[] => postmastersUnder(nodeDataDirs(t.home, clusterId)[0]!);
/** psql through the cluster's URL (the gateway), retried while the node restarts (30 s, then its last error). */
async function query(sql: string): Promise<string> {
  let last: unknown;
  const probe = () => {
    try {
      return psql(url, sql);
    } catch (error) {
      last = error;
      return undefined;
    }
  };
  return waitFor(`${sql} via the URL`, probe, 30_000).catch((e: Error) => {
    throw new Error(`${e.message}: ${last instanceof Error ? last.message : String(last)}`);
  });
}

/** shared_preload_libraries as the node's superuser sees it (the app role may not read it). */
async function preloaded(): Promise<string> {
  const endpoint = await createProcessRuntime({ home: t.home }).endpoint(runtimeNodeId(clusterId, 'node1'));
  const sql = "SELECT current_setting('shared_preload_libraries') AS v";
  return withClient(endpoint, async (q) => (await q.query<{ v: string }>(sql)).rows[0]!.v);
}

/** `pgfleet ...` that must succeed; prints what it printed, fails the test with the services' logs otherwise. */
async function cli(...args: string[]): Promise<CliResult> {
  const r = await t.cli(...args);
  if (r.code !== 0) {
    const logs = t.logs.filter((l) => /\[(provisioning|networking)\]/.test(l)).slice(-20);
    throw new Error(`pgfleet ${args.join(' ')} exited ${r.code}: ${r.stderr}\nservice logs:\n${logs.join('\n')}`);
  }
  console.log(`pgfleet ${args.join(' ')}:\n${r.stderr}${r.stdout}`);
  return r;
}

/** `pgfleet ...` that must fail with one sentence on stderr. */
async function refused(args: string[], sentence: RegExp): Promise<void> {
  const r = await t.cli(...args);
  expect(r.code).not.toBe(0);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr.trim()).toMatch(sentence);
}

interface Listed {
  extensions: { name: string; status: string; version: string; preload: boolean }[];
}
const listed = async (name: string) =>
  (JSON.parse((await cli('extension', 'list', NAME, '--json')).stdout) as Listed).extensions.find(
    (e) => e.name === name,
  );

beforeAll(async () => {
  t = await startPlatform();
  store = createPostgresEventStore({ connectionString: t.platform.eventstoreUrl });
  const created = await cli('cluster', 'create', NAME, '--plan', 'starter-512', '--no-wait', '--json');
  clusterId = (JSON.parse(created.stdout) as { result: { clusterId: string } }).result.clusterId;
  await waitFor('the cluster to be ready', async () => (await view()).status === 'ready' || undefined, 240_000);
  await waitFor('the URL', async () => (await t.cli('cluster', 'url', NAME)).code === 0 || undefined, 60_000);
  url = (await t.cli('cluster', 'url', NAME)).stdout.trim();
}, 300_000);

afterAll(async () => {
  await store?.close().catch(() => undefined);
  await t?.cleanup();
});

describe('extensions', () => {
  it('enable pgcrypto: the platform creates it, no restart; crypt() and gen_random_uuid() via the URL', async () => {
    const before = postmaster();
    const r = await cli('extension', 'enable', NAME, 'pgcrypto');
    expect(r.stdout).toMatch(/^pgcrypto 1\.3 enabled on ext \(in its app database\)$/m);
    expect(psql(url, "SELECT crypt('secret', gen_salt('bf')) LIKE '$2a$%'")).toBe('t');
    expect(psql(url, 'SELECT length(gen_random_uuid()::text)')).toBe('36');
    expect(postmaster()).toEqual(before);
    expect(await listed('pgcrypto')).toMatchObject({ status: 'enabled', version: '1.3', preload: false });
    expect(await listed('citext')).toMatchObject({ status: 'available', version: '1.6' });
  }, 120_000);

  it('enable pg_stat_statements (the app role may not): preloaded with a restart first, its view read', async () => {
    expect(() => psql(url, 'CREATE EXTENSION pg_stat_statements')).toThrow(/permission denied to create extension/);
    const before = postmaster();
    const r = await cli('extension', 'enable', NAME, 'pg_stat_statements', '--json');
    const reply = JSON.parse(r.stdout) as {
      result: { restarted: boolean; version: string };
      steps: { step: string }[];
    };
    expect(reply.result).toMatchObject({ restarted: true, version: '1.10' });
    expect(reply.steps.map((s) => s.step)).toEqual(['apply', 'restart-node1', 'verify', 'create']);
    expect(postmaster()).not.toEqual(before);
    expect(Number(await query('SELECT count(*) FROM pg_stat_statements'))).toBeGreaterThan(0);
    expect(await preloaded()).toBe('pg_stat_statements');
    expect((await view()).extensions).toEqual({ pgcrypto: '1.3', pg_stat_statements: '1.10' });
    expect((await cli('cluster', 'show', NAME)).stdout).toMatch(
      /^extensions: pgcrypto 1\.3, pg_stat_statements 1\.10$/m,
    );
  }, 120_000);

  it('off the allow-list, enabled twice, disabled while not enabled: one sentence each, nothing recorded', async () => {
    const version = (await view()).version_;
    await refused(
      ['extension', 'enable', NAME, 'plpython3u'],
      new RegExp(
        '^error: invalid extension: name: plpython3u is not an extension you may enable; ' +
          'the extensions you may enable are pg_stat_statements, pgcrypto, ',
      ),
    );
    await refused(['extension', 'disable', NAME, 'adminpack'], /adminpack is not an extension you may enable/);
    await refused(
      ['extension', 'enable', NAME, 'pgcrypto'],
      /^error: pgcrypto is already enabled on cluster ext \(version 1\.3\): nothing to do$/,
    );
    await refused(
      ['extension', 'disable', NAME, 'citext'],
      /^error: citext is not enabled on cluster ext: nothing to disable$/,
    );
    expect((await view()).version_).toBe(version);
  }, 60_000);

  it('disable: pg_stat_statements dropped and its library unloaded with a restart; pgcrypto dropped', async () => {
    const before = postmaster();
    const r = await cli('extension', 'disable', NAME, 'pg_stat_statements');
    expect(r.stdout).toMatch(/^pg_stat_statements disabled on ext .*nodes restarted one by one \(node1\)$/m);
    expect(postmaster()).not.toEqual(before);
    await query('SELECT 1');
    expect(() => psql(url, 'SELECT count(*) FROM pg_stat_statements')).toThrow(/does not exist/);
    expect(await preloaded()).toBe('');
    await cli('extension', 'disable', NAME, 'pgcrypto');
    expect(() => psql(url, "SELECT crypt('secret', gen_salt('bf'))")).toThrow(/does not exist/);
    expect(await listed('pgcrypto')).toMatchObject({ status: 'available' });
    expect((await view()).extensions).toEqual({});
    expect((await view()).parameters).toEqual({});
  }, 120_000);

  it('audit --at shows the extensions enabled at that instant', async () => {
    const events = (await store.readStream(streamIds.cluster(clusterId))).events;
    const second = events.filter((e) => e.type === 'ExtensionEnabled')[1]!;
    const at = new Date(Date.parse(second.occurredAt) + 1).toISOString();
    const then = await cli('audit', NAME, '--at', at);
    expect(then.stdout).toMatch(/^extensions: pgcrypto 1\.3, pg_stat_statements 1\.10$/m);
    expect(then.stdout).toMatch(/^parameters: shared_preload_libraries=pg_stat_statements$/m);
  }, 60_000);
});

describe('minor upgrade', () => {
  it('upgrade --minor restarts the node onto the installed binaries: before = after, said so', async () => {
    const before = postmaster();
    const running = await query("SELECT current_setting('server_version')");
    const r = await cli('upgrade', NAME, '--minor');
    expect(r.stdout).toContain(`cluster ${NAME} is already on the newest installed minor`);
    expect(r.stdout).toContain(`  node1: ${running} → ${running}`);
    expect(postmaster()).not.toEqual(before);
    const op = (await view()).ops.operations.at(-1)!;
    expect(op).toMatchObject({ kind: 'restart', params: { reason: 'minor-upgrade' }, status: 'succeeded' });
    expect(op.result?.minorUpgrade).toEqual({
      nodes: [{ nodeId: 'node1', before: running, after: running }],
      upgraded: false,
    });
    await refused(
      ['upgrade', NAME, '--minor', '--to', '15'],
      /^error: upgrade --minor takes neither --to nor --check$/,
    );
  }, 120_000);
});
