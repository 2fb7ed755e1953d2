import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPlan, type Plan } from '@pgfleet/contracts';
import { createReplicationRole, freePort, generatePassword, ownedTempDir, withClient } from '@pgfleet/postgres';
import type { NodeRuntime, NodeSetup } from '../port.js';
import { createProcessRuntime } from './processRuntime.js';

const plan: Plan = findPlan('sandbox')!;
const password = generatePassword();
let home: string;
let runtime: NodeRuntime;
/** Cluster c1 (stanza s1): leader a, follower b. Cluster c2 (stanza s2): x, the fork restored from s1. */
const setupOf = (stanza: string): NodeSetup => ({ plan, archive: { stanza } });

const sql = async <T = Record<string, unknown>>(nodeId: string, text: string): Promise<T[]> =>
  withClient(await runtime.endpoint(nodeId), async (q) => (await q.query(text)).rows as T[]);

/** Insert batch `n`; returns the server's clock_timestamp() after its commit. */
const batch = async (nodeId: string, n: number): Promise<string> => {
  await sql(nodeId, `INSERT INTO t SELECT ${n}, g FROM generate_series(1, 100) g`);
  const [row] = await sql<{ at: string }>(
    nodeId,
    `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`,
  );
  return row!.at;
};

/** Switch WAL and wait until the switched segment is in the archive. */
async function archived(nodeId: string): Promise<void> {
  const [{ wal }] = await sql<{ wal: string }>(nodeId, 'SELECT pg_walfile_name(pg_switch_wal()) AS wal');
  for (let i = 0; ; i++) {
    const [s] = await sql<{ last: string | null; failed: string | null }>(
      nodeId,
      'SELECT last_archived_wal AS last, last_failed_wal AS failed FROM pg_stat_archiver',
    );
    if (s!.last && s!.last >= wal) return;
    if (i > 300) throw new Error(`${wal} not archived; last ${s!.last}, failed ${s!.failed}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const batches = async (nodeId: string) =>
  (await sql<{ b: number }>(nodeId, 'SELECT DISTINCT b FROM t ORDER BY b')).map((r) => r.b);

beforeAll(async () => {
  home = await ownedTempDir('pgfleet-pitr-');
  runtime = createProcessRuntime({ home, archiveRepo: join(home, 'repo') });
  for (const [clusterId, nodeId] of [
    ['c1', 'a'],
    ['c1', 'b'],
    ['c2', 'x'],
  ] as const) {
    await runtime.create({ clusterId, nodeId, major: 15, port: await freePort() });
  }
});

afterAll(async () => {
  for (const c of ['c1', 'c2']) for (const n of await runtime.list(c)) await runtime.remove(n.nodeId).catch(() => 0);
  if (home) rmSync(home, { recursive: true, force: true });
});

// Generous per-test limits: a loaded 2-core machine takes a minute over a standby backup.
describe('continuous archive with pgBackRest, PostgreSQL 15', { timeout: 300_000 }, () => {
  const times: Record<number, string> = {};

  it('archives a leader and its follower into one stanza', async () => {
    await runtime.initialize('a', setupOf('s1'));
    await runtime.start('a');
    expect(await sql('a', "SELECT current_setting('archive_mode') AS m")).toEqual([{ m: 'on' }]);
    await createReplicationRole(await runtime.endpoint('a'), { role: 'replicator', password });
    const leader = { ...(await runtime.peerAddress('a')), user: 'replicator', password };
    await runtime.cloneFrom('b', { ...setupOf('s1'), leader, slotName: 'b' });
    await runtime.start('b');
    await runtime.archive.createStanza('s1', 'a');
    await runtime.archive.createStanza('s1', 'a'); // exists for this system: a no-op
    await runtime.archive.check('s1', 'a');
  });

  it('backs up the cluster from its standby', async () => {
    const backup = await runtime.archive.backup('s1', { leaderNodeId: 'a', standbyNodeId: 'b' });
    expect(backup).toMatchObject({ type: 'full', timeline: 1 });
    expect(Date.parse(backup.stoppedAt)).toBeGreaterThan(Date.parse(backup.startedAt));
    const info = await runtime.archive.info('s1');
    expect(info).toMatchObject({ stanza: 's1', status: 'ok', backups: [backup] });
    expect(info.walMax! >= backup.walStop).toBe(true);
    // pgBackRest's own log goes under the data root, not to the caller's output.
    expect(readFileSync(join(home, 'pitr', 'log', 's1-backup.log'), 'utf8')).toContain('backup command end');
  });

  it('restores into a node of another cluster at a time between two batches', async () => {
    // The window starts at the backups' stop time (whole seconds, rounded up): write after it.
    const stoppedAt = Math.max(...(await runtime.archive.info('s1')).backups.map((b) => Date.parse(b.stoppedAt)));
    await new Promise((r) => setTimeout(r, Math.max(0, stoppedAt + 100 - Date.now())));
    await sql('a', 'CREATE TABLE t (b int, i int)');
    for (const n of [1, 2, 3]) times[n] = await batch('a', n);
    await archived('a');
    const started = Date.now();
    await runtime.archive.restore('x', { stanza: 's1', targetTime: times[2]!, setup: setupOf('s2') });
    console.log(`restore into a new node: ${Date.now() - started} ms`);
    expect(await batches('x')).toEqual([1, 2]);
    await sql('x', 'INSERT INTO t VALUES (9, 9)'); // accepts writes
    // Nothing of the source's configuration came along, and no recovery setting is left.
    const autoConf = readFileSync(join((await runtime.status('x')).node!.dataDir, 'postgresql.auto.conf'), 'utf8');
    expect(autoConf).not.toMatch(/recovery_target|restore_command|primary_conninfo/);
    const [cmd] = await sql<{ c: string }>('x', "SELECT current_setting('archive_command') AS c");
    expect(cmd!.c).toContain('--stanza=s2');
    // The fork archives into its own stanza.
    await runtime.archive.createStanza('s2', 'x');
    await runtime.archive.check('s2', 'x');
    expect(await batches('a')).toEqual([1, 2, 3]);
  });

  it('rejects targets outside the window with a clear reason, leaving the node stopped', async () => {
    const setup = setupOf('s2');
    const { backups } = await runtime.archive.info('s1');
    const before = new Date(Date.parse(backups[0]!.stoppedAt) - 5000).toISOString();
    await expect(runtime.archive.restore('x', { stanza: 's1', targetTime: before, setup })).rejects.toThrow(
      /is before the recovery window of stanza s1, which starts at/,
    );
    await expect(runtime.archive.restore('x', { stanza: 's1', targetTime: '2026-01-01 10:00', setup })).rejects.toThrow(
      /with an offset/,
    );
    await runtime.stop('x');
    // Past the last commit in the archive: recovery ends before the target, PostgreSQL says so.
    const [{ now }] = await sql<{ now: string }>('a', 'SELECT clock_timestamp()::text AS now');
    await expect(
      runtime.archive.restore('x', { stanza: 's1', targetTime: now!, setup, timeoutSeconds: 60 }),
    ).rejects.toThrow(/recovery ended before configured recovery target was reached/);
    expect((await runtime.status('x')).state).toBe('stopped');
    expect(await runtime.isInitialized('x')).toBe(false); // half-recovered: nothing starts it
  });

  it('restores to a time after a promotion (timeline 2), over the same system with --delta', async () => {
    await runtime.stop('a');
    await runtime.promote('b');
    times[4] = await batch('b', 4);
    await batch('b', 5);
    await archived('b');
    await runtime.archive.restore('x', { stanza: 's1', targetTime: times[4]!, setup: setupOf('s2') });
    expect(await batches('x')).toEqual([1, 2, 3, 4]);
    const restoreLog = readFileSync(join(home, 'pitr', 'log', 's1-restore.log'), 'utf8')
      .split('PROCESS START')
      .at(-1);
    expect(restoreLog).toContain('--delta');
    const [tl] = await sql<{ tl: number }>('x', 'SELECT timeline_id AS tl FROM pg_control_checkpoint()');
    expect(tl!.tl).toBeGreaterThanOrEqual(2);
    // And to a time before the promotion, from the same archive.
    await runtime.stop('x');
    await runtime.archive.restore('x', { stanza: 's1', targetTime: times[1]!, setup: setupOf('s2') });
    expect(await batches('x')).toEqual([1]);
  });

  it('reports, expires and removes a stanza', async () => {
    const backup = await runtime.archive.backup('s1', { leaderNodeId: 'b' });
    expect(backup.timeline).toBe(2);
    await runtime.archive.expire('s1', { keepDays: 7 });
    const info = await runtime.archive.info('s1');
    expect(info.backups.map((b) => b.label)).toHaveLength(2);
    expect(info.walMin! < info.walMax!).toBe(true);
    await runtime.archive.remove('s1');
    await runtime.archive.remove('s1');
    expect(await runtime.archive.info('s1')).toMatchObject({ status: 'missing', backups: [] });
  });
});
