import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOperation, foldClusterView, foldPitr, runtimeNodeId, streamIds } from '@pgfleet/contracts';
import { createPostgresEventStore, type EventStore } from '@pgfleet/eventstore';
import { withClient } from '@pgfleet/postgres';
import { createProcessRuntime, type NodeRuntime } from '@pgfleet/runtime';
import { psql, startPlatform, waitFor, writeLoad, type TestPlatform } from './harness.js';

let t: TestPlatform;
let store: EventStore;
let runtime: NodeRuntime;

const json = async <T>(...args: string[]): Promise<T> => {
  const r = await t.cli(...args, '--json');
  if (r.code !== 0) throw new Error(`pgfleet ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
};

const viewOf = async (clusterId: string) =>
  foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events);

/** A query as the superuser on one node of the cluster (over its socket, through the runtime). */
async function onNode<T extends Record<string, unknown>>(clusterId: string, nodeId: string, sql: string, db = 'app') {
  const endpoint = await runtime.endpoint(runtimeNodeId(clusterId, nodeId), db);
  return withClient(endpoint, async (q) => (await q.query<T>(sql)).rows);
}

/** Every pgbench table's row count and an md5 of its rows in key order. */
const CHECKSUMS = `
  SELECT 'accounts' AS t, count(*) AS n, md5(string_agg(a::text, ',' ORDER BY aid)) AS h FROM pgbench_accounts a
  UNION ALL SELECT 'branches', count(*), md5(string_agg(b::text, ',' ORDER BY bid)) FROM pgbench_branches b
  UNION ALL SELECT 'tellers', count(*), md5(string_agg(x::text, ',' ORDER BY tid)) FROM pgbench_tellers x
  UNION ALL SELECT 'history', count(*), md5(string_agg(h::text, ',' ORDER BY h::text)) FROM pgbench_history h
  ORDER BY 1`;
const SYNC_STATES = 'SELECT application_name AS name, sync_state AS s FROM pg_stat_replication ORDER BY 1';

const upgradeService = () => t.platform.services().find((s) => s.name === 'upgrade')?.pid;
const operationOf = async (clusterId: string, operationId: string) =>
  findOperation((await viewOf(clusterId)).ops, operationId);

const alive = (pid: number | undefined) => {
  try {
    return pid !== undefined && process.kill(pid, 0);
  } catch {
    return false;
  }
};

/**
 * Wait for the operation to record `step`, then SIGKILL the upgrade service running then (the
 * supervisor starts it again a second later; `previous` is the one killed before).
 */
async function killAfter(
  clusterId: string,
  operationId: string,
  step: string,
  previous?: number,
): Promise<number | undefined> {
  const running = await waitFor(
    `step ${step}`,
    async () => {
      const op = await operationOf(clusterId, operationId);
      if (op && op.status !== 'running') return 'ended';
      return op?.steps.some((s) => s.step === step) ? 'running' : undefined;
    },
    300_000,
  );
  if (running === 'ended') return undefined;
  const victim = await waitFor('a running upgrade service', () => {
    const pid = upgradeService();
    return pid !== previous && alive(pid) ? pid : undefined;
  });
  process.kill(victim, 'SIGKILL');
  return victim;
}

/** Every step of the operation but the last (after which it ends): the service is killed after each. */
const STEPS = [
  'check',
  'stop',
  'upgrade-leader',
  'start-leader',
  'extensions',
  'analyze',
  'pitr-reset',
  'followers',
  'pitr-backup',
  'analyzed',
];

beforeAll(async () => {
  t = await startPlatform();
  store = createPostgresEventStore({ connectionString: t.platform.eventstoreUrl });
  runtime = createProcessRuntime({ home: t.home });
});
afterAll(async () => {
  await store?.close();
  await t?.cleanup();
});

describe('major upgrade 13 -> 15', () => {
  it('a Business cluster on 13 with pgbench data and pg_trgm: --check refuses a reg* column and changes nothing; ' +
    'then the upgrade, with the upgrade service killed -9 after each step, ends upgraded: ' +
    'same rows, 15 on three nodes, followers streaming as before, same URL, a new full backup, restores ' +
    'before it refused naming it', async () => {
    const created = await t.cli('cluster', 'create', 'old', '--plan', 'business-1024', '--version', '13');
    expect(created.code, created.stderr).toBe(0);
    const { clusterId } = await json<{ clusterId: string }>('cluster', 'show', 'old');
    const { url } = await json<{ url: string }>('cluster', 'url', 'old');
    const view = await viewOf(clusterId);
    const leader = view.leader!;
    const nodes = view.nodes.map((n) => n.nodeId);
    expect(view.version).toBe(13);
    const init = await runtime.exec(runtimeNodeId(clusterId, leader), 'pgbench', ['-i', '-s', '2', '-q', 'app']);
    expect(init.code, init.stderr).toBe(0);
    const enabled = await t.cli('extension', 'enable', 'old', 'pg_trgm');
    expect(enabled.code, enabled.stderr).toBe(0);
    expect((await viewOf(clusterId)).extensions).toEqual({ pg_trgm: '1.5' });
    psql(url, 'CREATE TABLE acked (client int, seq int, PRIMARY KEY (client, seq))');
    await waitFor(
      'the first PITR full backup',
      async () =>
        foldPitr((await store.readStream(streamIds.pitr(clusterId))).events).backups.some(
          (b) => b.status === 'completed',
        ) || undefined,
      300_000,
    );

    // --check on an obstacle pg_upgrade 15 really rejects: a reg* type (regproc) in a user table.
    await onNode(clusterId, leader, 'CREATE TABLE uses_regproc (id int, f regproc)');
    const refused = await t.cli('upgrade', 'old', '--to', '15', '--check');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/reg\* data types in user tables/);
    expect(refused.stderr).toMatch(/uses_regproc/);
    expect((await viewOf(clusterId)).version).toBe(13);
    const leaderDir = (await runtime.status(runtimeNodeId(clusterId, leader))).node!.dataDir;
    expect(existsSync(join(leaderDir, '..', 'data-15'))).toBe(false);
    for (const n of nodes) {
      const [v] = await onNode<{ v: string }>(clusterId, n, "SELECT current_setting('server_version_num') AS v");
      expect(Number(v!.v)).toBeLessThan(140000);
    }
    await onNode(clusterId, leader, 'DROP TABLE uses_regproc');
    const ok = await json<{ result: { checkOnly: boolean } }>('upgrade', 'old', '--to', '15', '--check');
    expect(ok.result.checkOnly).toBe(true);

    const before = await onNode(clusterId, leader, CHECKSUMS);
    const syncBefore = await onNode(clusterId, leader, SYNC_STATES);
    const beforeUpgrade = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 1100));
    const load = writeLoad(url, 2);
    const started = await json<{ operationId: string }>('upgrade', 'old', '--to', '15', '--no-wait');
    const { operationId } = started;
    // kill -9 of the upgrade service once each step is recorded (the supervisor restarts it; it resumes).
    const killedAfter: string[] = [];
    let victim: number | undefined;
    for (const step of STEPS) {
      const killed = await killAfter(clusterId, operationId, step, victim);
      if (killed === undefined) break; // the upgrade ended meanwhile
      killedAfter.push(step);
      victim = killed;
    }
    console.log(`upgrade service killed -9 after: ${killedAfter.join(', ')}`);
    // The steps up to the new leader's start take seconds each: the service was killed after every one of them.
    expect(killedAfter.slice(0, 4)).toEqual(STEPS.slice(0, 4));
    const ended = await waitFor(
      'the upgrade to end',
      async () => {
        const op = await operationOf(clusterId, operationId);
        return op && op.status !== 'running' ? op : undefined;
      },
      600_000,
    );
    await load.stop();
    console.log(`writes refused for at most ${load.longestGapMs()} ms during the upgrade (2 writers)`);
    if (ended.status !== 'succeeded') {
      const logged = t.logs.filter((l) => l.startsWith('[upgrade]')).slice(-60);
      console.log(`operation: ${JSON.stringify(ended, null, 2)}\nlogs:\n${logged.join('\n')}`);
    }
    expect(ended).toMatchObject({ status: 'succeeded', kind: 'major-upgrade' });
    expect(ended.steps.map((s) => s.step)).toEqual(
      expect.arrayContaining(['check', 'stop', 'upgrade-leader', 'start-leader', 'followers', 'cleanup']),
    );

    const upgradedAt = ended.steps.find((s) => s.step === 'start-leader')!.at!;
    const after = await viewOf(clusterId);
    expect(after.version).toBe(15);
    expect(after.leader).toBe(leader);
    for (const n of nodes) {
      const [v] = await onNode<{ v: string }>(clusterId, n, "SELECT current_setting('server_version_num') AS v");
      expect(Number(v!.v)).toBeGreaterThanOrEqual(150000);
    }
    expect(await onNode(clusterId, leader, CHECKSUMS)).toEqual(before);
    const [trgm] = await onNode<{ v: string }>(
      clusterId,
      leader,
      "SELECT extversion AS v FROM pg_extension WHERE extname = 'pg_trgm'",
    );
    expect(trgm!.v).toBe('1.6');
    expect(after.extensions).toEqual({ pg_trgm: '1.6' });
    const syncAfter = await waitFor('the followers to stream as before', async () => {
      const rows = await onNode(clusterId, leader, SYNC_STATES);
      return JSON.stringify(rows) === JSON.stringify(syncBefore) ? rows : undefined;
    });
    expect(syncAfter).toEqual(syncBefore);
    expect((await json<{ url: string }>('cluster', 'url', 'old')).url).toBe(url);
    expect(psql(url, "SELECT current_setting('server_version_num')::int >= 150000")).toBe('t');
    expect(existsSync(leaderDir)).toBe(false); // the old data directory, once the upgrade is done

    await waitFor(
      'a full backup after the upgrade',
      async () =>
        foldPitr((await store.readStream(streamIds.pitr(clusterId))).events).backups.some(
          (b) => b.status === 'completed' && Date.parse(b.stopAt!) > Date.parse(upgradedAt),
        ) || undefined,
      300_000,
    );
    const restore = await t.cli('pitr', 'restore', 'old', '--to', beforeUpgrade, '--in-place');
    expect(restore.code).not.toBe(0);
    expect(restore.stderr).toMatch(/a major upgrade of cluster old restarted its history/);
  }, 1_500_000);

  it('a failure --check cannot see (a view calling pg_start_backup, gone in 15) rolls back: the cluster stays ' +
    'on 13, its leader running and writable through the same URL, its rows there, no 15 data directory', async () => {
    const created = await t.cli('cluster', 'create', 'kept', '--plan', 'starter-512', '--version', '13');
    expect(created.code, created.stderr).toBe(0);
    const { clusterId } = await json<{ clusterId: string }>('cluster', 'show', 'kept');
    const { url } = await json<{ url: string }>('cluster', 'url', 'kept');
    const leader = (await viewOf(clusterId)).leader!;
    psql(url, 'CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 1000) g');
    // pg_upgrade --check does not restore the schema: only the real run finds that 15 has no pg_start_backup.
    await onNode(clusterId, leader, "CREATE VIEW uses_removed AS SELECT pg_start_backup('x') AS lsn");
    const checked = await json<{ result: { checkOnly: boolean } }>('upgrade', 'kept', '--to', '15', '--check');
    expect(checked.result.checkOnly).toBe(true);

    const failed = await t.cli('upgrade', 'kept', '--to', '15');
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/pg_start_backup/);
    const view = await viewOf(clusterId);
    expect(view.version).toBe(13);
    const op = view.ops.operations.at(-1)!;
    expect(op).toMatchObject({ kind: 'major-upgrade', status: 'failed' });
    expect(op.steps.map((s) => s.step)).not.toContain('start-leader');
    // The rolled-back leader was started again: the gateway sends connections to it once its check sees it up.
    const onThirteen = await waitFor('the URL to answer after the rollback', () => {
      try {
        return psql(url, "SELECT current_setting('server_version_num')::int < 140000");
      } catch {
        return undefined;
      }
    });
    expect(onThirteen).toBe('t');
    expect(psql(url, 'SELECT count(*) FROM items')).toBe('1000');
    psql(url, 'INSERT INTO items VALUES (1001)');
    expect(psql(url, 'SELECT max(id) FROM items')).toBe('1001');
    const leaderDir = (await runtime.status(runtimeNodeId(clusterId, leader))).node!.dataDir;
    expect(existsSync(join(leaderDir, '..', 'data-15'))).toBe(false);
  }, 300_000);
});
