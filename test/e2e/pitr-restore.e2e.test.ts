import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findOperation, foldClusterView, foldPitr, streamIds, type Operation } from '@pgfleet/contracts';
import { createPostgresEventStore, type EventStore } from '@pgfleet/eventstore';
import { nodeSocketDir } from '@pgfleet/postgres';
import { nodeDataDirs, psql, sleep, startPlatform, waitFor, type TestPlatform } from './harness.js';

let t: TestPlatform;
let store: EventStore;

/** Run the CLI; it must succeed. */
const ok = async (...args: string[]) => {
  const r = await t.cli(...args);
  expect(r.code, `pgfleet ${args.join(' ')}: ${r.stderr}${r.stdout}`).toBe(0);
  return r;
};

const json = async <T>(...args: string[]): Promise<T> => {
  const r = await t.cli(...args, '--json');
  if (r.code !== 0) throw new Error(`pgfleet ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
};

/** The superuser's URL of each running node of the cluster (over its unix socket), by data directory. */
function superuserUrls(clusterId: string, database = 'app'): string[] {
  return nodeDataDirs(t.home, clusterId).flatMap((dataDir) => {
    let port: string | undefined;
    try {
      port = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[3]?.trim();
    } catch {
      return []; // stopped
    }
    return port
      ? [`postgresql://postgres@/${database}?host=${encodeURIComponent(nodeSocketDir(dataDir))}&port=${port}`]
      : [];
  });
}

const isLeader = (url: string) => {
  try {
    return psql(url, 'SELECT NOT pg_is_in_recovery()') === 't';
  } catch {
    return false; // a node killed or restarting
  }
};
const leaderUrl = (clusterId: string) => superuserUrls(clusterId).find(isLeader)!;

/** The server's clock now, as ISO 8601 UTC with microseconds. */
const serverNow = (url: string) =>
  psql(url, `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`);

/** Three batches of 100 rows, the server's clock read between them: [after batch 1, after batch 2, after batch 3]. */
async function writeBatches(url: string): Promise<[string, string, string]> {
  psql(url, 'CREATE TABLE ledger (id int PRIMARY KEY, batch int NOT NULL)');
  const times: string[] = [];
  for (const batch of [1, 2, 3]) {
    psql(url, `INSERT INTO ledger SELECT g, ${batch} FROM generate_series(${batch * 100 - 99}, ${batch * 100}) g`);
    await new Promise((r) => setTimeout(r, 1100));
    times.push(serverNow(url));
    await new Promise((r) => setTimeout(r, 1100));
  }
  return times as [string, string, string];
}

/** Until the cluster's first full backup completed: the window begins at its end. */
async function waitForFullBackup(clusterId: string): Promise<void> {
  await waitFor(
    'the first PITR full backup',
    async () => {
      const state = foldPitr((await store.readStream(streamIds.pitr(clusterId))).events);
      const failed = state.backups.find((b) => b.status === 'failed');
      if (failed) throw new Error(`the full backup failed: ${failed.failedReason}`);
      return state.backups.some((b) => b.status === 'completed') || undefined;
    },
    300_000,
  );
}

/** Until the WAL written so far is archived (the window's latest is past it). */
async function waitForWalArchived(clusterId: string): Promise<void> {
  const leader = leaderUrl(clusterId);
  const segment = psql(leader, 'SELECT pg_walfile_name(pg_switch_wal())');
  await waitFor(
    `WAL segment ${segment} to be archived`,
    () => psql(leader, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") >= segment || undefined,
    120_000,
  );
}

const clusterStream = async (clusterId: string) => store.readStream(streamIds.cluster(clusterId));
/** The operations ever requested on the cluster (other services append health and gateway events meanwhile). */
const operationsRequested = async (clusterId: string) =>
  (await clusterStream(clusterId)).events.filter((e) => e.type === 'OperationRequested').length;
const operationOf = async (clusterId: string, operationId: string): Promise<Operation | undefined> =>
  findOperation(foldClusterView((await clusterStream(clusterId)).events).ops, operationId);
const batchesOf = (url: string) => psql(url, "SELECT string_agg(DISTINCT batch::text, ',') FROM ledger");

beforeAll(async () => {
  t = await startPlatform();
  store = createPostgresEventStore({ connectionString: t.platform.eventstoreUrl });
});
afterAll(async () => {
  await store?.close();
  await t?.cleanup();
});

describe('pitr restore: refusals change nothing', () => {
  it('a Sandbox cluster, a time without an offset and a time outside the window are each refused in one ' +
    'sentence with a non-zero exit, and no operation is recorded', async () => {
    await ok('cluster', 'create', 'sandy', '--plan', 'sandbox');
    const sandy = await json<{ clusterId: string }>('cluster', 'show', 'sandy');
    const before = await operationsRequested(sandy.clusterId);
    const sandbox = await t.cli('pitr', 'restore', 'sandy', '--to', new Date().toISOString());
    expect(sandbox.code).not.toBe(0);
    expect(sandbox.stderr).toMatch(/sandbox plan of cluster sandy has no point-in-time recovery/);
    expect(sandbox.stderr.trim().split('\n')).toHaveLength(1);

    const local = await t.cli('pitr', 'restore', 'sandy', '--to', '2026-11-30T10:15:00');
    expect(local.code).not.toBe(0);
    expect(local.stderr).toMatch(/--to: must be an ISO 8601 time with an offset/);

    // Over the API too (the CLI's check is not the only one): the field is named.
    const { url, token } = { url: t.platform.apiUrl, token: readFileSync(join(t.home, 'api-token'), 'utf8').trim() };
    const res = await fetch(`${url}/v1/clusters/sandy/pitr/restore`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: '2026-11-30T10:15:00', into: 'sandy-fork' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'to' } });
    expect(await operationsRequested(sandy.clusterId)).toBe(before);
  }, 300_000);
});

describe('pitr restore --into: a fork at a past instant', () => {
  it('restored to a time between batch 2 and batch 3: the new cluster has batches 1-2 and not 3, is a full ' +
    'cluster of its own, and the original is untouched; a time past the window names the window', async () => {
    await ok('cluster', 'create', 'orders', '--plan', 'starter-512');
    const { clusterId } = await json<{ clusterId: string }>('cluster', 'show', 'orders');
    const { url } = await json<{ url: string }>('cluster', 'url', 'orders');
    await waitForFullBackup(clusterId);
    const [, afterBatch2] = await writeBatches(url);
    await waitForWalArchived(clusterId);

    // Outside the window: refused, naming it; nothing recorded.
    const before = await operationsRequested(clusterId);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const outside = await t.cli('pitr', 'restore', 'orders', '--to', future, '--into', 'orders-future');
    expect(outside.code).not.toBe(0);
    expect(outside.stderr).toMatch(/is outside the recoverable window of cluster orders: \[.+, .+\]/);
    expect(await operationsRequested(clusterId)).toBe(before);

    const r = await t.cli('pitr', 'restore', 'orders', '--to', afterBatch2, '--into', 'orders-fork', '--json');
    expect(r.code, `${r.stderr}${r.stdout}`).toBe(0);
    const done = JSON.parse(r.stdout) as { operationId: string; targetClusterId: string; targetName: string };
    expect(done).toMatchObject({ targetName: 'orders-fork' });
    const op = await operationOf(clusterId, done.operationId);
    expect(op).toMatchObject({ kind: 'pitr-restore', status: 'succeeded' });
    expect(op?.steps.map((s) => s.step)).toEqual(['create-target', 'target-ready']);

    const fork = await json<{ url: string }>('cluster', 'url', 'orders-fork');
    expect(batchesOf(fork.url)).toBe('1,2');
    expect(psql(fork.url, 'SELECT count(*) FROM ledger')).toBe('200');
    expect(fork.url).not.toBe(url); // its own password and gateway
    psql(fork.url, 'INSERT INTO ledger VALUES (1000, 9)'); // it takes writes
    // The original: all three batches, still written to.
    expect(batchesOf(url)).toBe('1,2,3');
    psql(url, 'INSERT INTO ledger VALUES (1000, 4)');
    // The fork archives into its own stanza from now on.
    const forkId = done.targetClusterId;
    await waitFor(
      'the fork to archive its own WAL',
      async () => foldPitr((await store.readStream(streamIds.pitr(forkId))).events).stanza === forkId || undefined,
      120_000,
    );
  }, 900_000);
});

describe('pitr restore --in-place on Business', () => {
  it('restored in place to a time between batch 2 and batch 3: rows after the target are gone, both followers ' +
    'replicate the restored leader, the application writes again and the window restarts with a new ' +
    'full backup', async () => {
    await ok('cluster', 'create', 'books', '--plan', 'business-1024');
    const { clusterId } = await json<{ clusterId: string }>('cluster', 'show', 'books');
    const { url } = await json<{ url: string }>('cluster', 'url', 'books');
    await waitForFullBackup(clusterId);
    const [, afterBatch2] = await writeBatches(url);
    await waitForWalArchived(clusterId);

    const r = await t.cli('pitr', 'restore', 'books', '--to', afterBatch2, '--in-place', '--json');
    expect(r.code, `${r.stderr}${r.stdout}`).toBe(0);
    const done = JSON.parse(r.stdout) as { operationId: string };
    const op = await operationOf(clusterId, done.operationId);
    expect(op).toMatchObject({ kind: 'pitr-restore', status: 'succeeded' });
    expect(op?.steps.map((s) => s.step)).toEqual([
      'check',
      'fence',
      'stop-followers',
      'stop-leader',
      'restore',
      'reclone-followers',
      'streaming',
      'window-restarted',
      'request-backup',
      'unfence',
    ]);

    // Through the gateway, as the application: batches 1-2 only, and it writes again.
    expect(batchesOf(url)).toBe('1,2');
    psql(url, 'INSERT INTO ledger VALUES (1000, 4)');
    // Both followers stream from the restored leader and have what it has.
    const nodes = superuserUrls(clusterId);
    expect(nodes).toHaveLength(3);
    const leader = nodes.find(isLeader)!;
    expect(psql(leader, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")).toBe('2');
    const lsn = psql(leader, 'SELECT pg_current_wal_lsn()');
    for (const follower of nodes.filter((n) => n !== leader)) {
      await waitFor(
        'the follower to replay the restored leader',
        () => psql(follower, `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn`) === 't' || undefined,
      );
      expect(psql(follower, 'SELECT count(*) FROM ledger')).toBe('201');
    }

    // The window restarted: recorded, and a new full backup was asked for.
    const pitr = (await store.readStream(streamIds.pitr(clusterId))).events;
    const restart = pitr.find((e) => e.type === 'PitrWindowRestarted');
    expect(restart?.data).toMatchObject({ reason: 'in-place-restore', operationId: done.operationId });
    expect(foldPitr(pitr).backups.filter((b) => b.kind === 'manual')).toHaveLength(1);
    // A time before the restart is refused, naming it.
    const again = await t.cli('pitr', 'restore', 'books', '--to', afterBatch2, '--into', 'books-old');
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/when an in-place restore of cluster books restarted its history/);
  }, 900_000);
});

/** The postmaster pid and superuser URL of each node of the cluster whose server runs and leads. */
function runningLeader(clusterId: string): { pid: number; url: string } | undefined {
  for (const dataDir of nodeDataDirs(t.home, clusterId)) {
    try {
      const [pid, , , port] = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
      const url = `postgresql://postgres@/app?host=${encodeURIComponent(nodeSocketDir(dataDir))}&port=${port?.trim()}`;
      if (isLeader(url)) return { pid: Number(pid), url };
    } catch {
      // stopped, or killed and not answering
    }
  }
  return undefined;
}

describe('pitr restore across a failover', () => {
  it('a Business leader killed between two batches (the new leader on timeline 2 archives on): restored to a ' +
    'time before the failover the fork has batch 1 only, to a time after it batches 1-2', async () => {
    await ok('cluster', 'create', 'ships', '--plan', 'business-1024');
    const { clusterId } = await json<{ clusterId: string }>('cluster', 'show', 'ships');
    const { url } = await json<{ url: string }>('cluster', 'url', 'ships');
    await waitForFullBackup(clusterId);
    psql(url, 'CREATE TABLE ledger (id int PRIMARY KEY, batch int NOT NULL)');
    psql(url, 'INSERT INTO ledger SELECT g, 1 FROM generate_series(1, 100) g');
    await sleep(1100);
    const beforeFailover = serverNow(url);
    await sleep(1100);
    await waitForWalArchived(clusterId);

    const old = runningLeader(clusterId)!;
    process.kill(old.pid, 'SIGKILL');
    const promoted = await waitFor(
      'a follower promoted by the HA service',
      () => {
        const now = runningLeader(clusterId);
        return now && now.pid !== old.pid ? now : undefined;
      },
      120_000,
    );
    const timeline = parseInt(psql(promoted.url, 'SELECT pg_walfile_name(pg_current_wal_lsn())').slice(0, 8), 16);
    expect(timeline).toBeGreaterThanOrEqual(2);
    await waitFor(
      'writes through the URL again',
      () => {
        try {
          psql(url, 'INSERT INTO ledger SELECT g, 2 FROM generate_series(101, 200) g');
          return true;
        } catch {
          return undefined;
        }
      },
      120_000,
    );
    await sleep(1100);
    const afterFailover = serverNow(url);
    await sleep(1100);
    psql(url, 'INSERT INTO ledger SELECT g, 3 FROM generate_series(201, 300) g');
    await waitForWalArchived(clusterId);

    // The HA service rejoins the old leader as a follower: an operation on the cluster, which a
    // restore waits for (one operation at a time per cluster).
    await waitFor(
      'the restore to be accepted once the rejoin ended',
      async () => {
        const r = await t.cli('pitr', 'restore', 'ships', '--to', beforeFailover, '--into', 'ships-before');
        if (r.code === 0) return true;
        if (!/is in progress on this cluster/.test(r.stderr)) throw new Error(`pitr restore failed: ${r.stderr}`);
        await sleep(1000);
        return undefined;
      },
      300_000,
    );
    const before = await json<{ url: string }>('cluster', 'url', 'ships-before');
    expect(batchesOf(before.url)).toBe('1');
    await ok('pitr', 'restore', 'ships', '--to', afterFailover, '--into', 'ships-after');
    const after = await json<{ url: string }>('cluster', 'url', 'ships-after');
    expect(batchesOf(after.url)).toBe('1,2');
    expect(batchesOf(url)).toBe('1,2,3'); // the original is untouched
  }, 900_000);
});
