import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findOperation, foldClusterView, foldPitr, streamIds } from '@pgfleet/contracts';
import { createPostgresEventStore, type EventStore } from '@pgfleet/eventstore';
import { nodeSocketDir } from '@pgfleet/postgres';
import { nodeDataDirs, psql, startPlatform, waitFor, type TestPlatform } from './harness.js';

let t: TestPlatform;
let store: EventStore;

const json = async <T>(...args: string[]): Promise<T> => {
  const r = await t.cli(...args, '--json');
  if (r.code !== 0) throw new Error(`pgfleet ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
};

/** The superuser's URL of the cluster's running leader, over its unix socket. */
function leaderUrl(clusterId: string): string {
  for (const dataDir of nodeDataDirs(t.home, clusterId)) {
    const port = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[3]?.trim();
    const url = `postgresql://postgres@/app?host=${encodeURIComponent(nodeSocketDir(dataDir))}&port=${port}`;
    if (psql(url, 'SELECT NOT pg_is_in_recovery()') === 't') return url;
  }
  throw new Error(`cluster ${clusterId} has no running leader`);
}

const serverNow = (url: string) =>
  psql(url, `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`);
const pitrService = () => t.platform.services().find((s) => s.name === 'pitr')!.pid!;
const operationOf = async (clusterId: string, operationId: string) =>
  findOperation(foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events).ops, operationId);

beforeAll(async () => {
  t = await startPlatform();
  store = createPostgresEventStore({ connectionString: t.platform.eventstoreUrl });
});
afterAll(async () => {
  await store?.close();
  await t?.cleanup();
});

describe('pitr restore crash safety', () => {
  it('kill -9 of the pitr service while an in-place restore replaces the leader: the application cannot log in ' +
    'meanwhile, and after the restart the operation resumes to the end: restored to the target, ' +
    'writable', async () => {
    const created = await t.cli('cluster', 'create', 'till', '--plan', 'starter-512');
    expect(created.code, created.stderr).toBe(0);
    const { clusterId } = await json<{ clusterId: string }>('cluster', 'show', 'till');
    const { url } = await json<{ url: string }>('cluster', 'url', 'till');
    await waitFor(
      'the first PITR full backup',
      async () =>
        foldPitr((await store.readStream(streamIds.pitr(clusterId))).events).backups.some(
          (b) => b.status === 'completed',
        ) || undefined,
      300_000,
    );
    psql(url, 'CREATE TABLE ledger (id int PRIMARY KEY, batch int NOT NULL)');
    psql(url, 'INSERT INTO ledger SELECT g, 1 FROM generate_series(1, 100) g');
    await new Promise((r) => setTimeout(r, 1100));
    const target = serverNow(url);
    await new Promise((r) => setTimeout(r, 1100));
    psql(url, 'INSERT INTO ledger SELECT g, 2 FROM generate_series(101, 200) g');
    const leader = leaderUrl(clusterId);
    const segment = psql(leader, 'SELECT pg_walfile_name(pg_switch_wal())');
    await waitFor(
      'the WAL to be archived',
      () => psql(leader, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") >= segment || undefined,
      120_000,
    );

    const r = await t.cli('pitr', 'restore', 'till', '--to', target, '--in-place', '--no-wait', '--json');
    expect(r.code, `${r.stderr}${r.stdout}`).toBe(0);
    const { operationId } = JSON.parse(r.stdout) as { operationId: string };

    // Once the leader is stopped for the restore: the application is fenced, then the service dies.
    const victim = pitrService();
    await waitFor(
      'the leader to be stopped for the restore',
      async () => {
        const op = await operationOf(clusterId, operationId);
        if (op && op.status !== 'running') throw new Error(`the restore ended (${op.status}) before the kill`);
        return op?.steps.some((s) => s.step === 'stop-leader') || undefined;
      },
      180_000,
    );
    process.kill(victim, 'SIGKILL');
    expect(() => psql(url, 'SELECT 1')).toThrow();

    const ended = await waitFor(
      'the restore to end after the restart',
      async () => {
        const op = await operationOf(clusterId, operationId);
        return op && op.status !== 'running' ? op : undefined;
      },
      300_000,
    );
    expect(pitrService()).not.toBe(victim);
    if (ended.status !== 'succeeded') {
      // What a failure in CI needs to be understood: the operation's steps and reason, the pitr logs.
      const logged = t.logs.filter((l) => l.includes(clusterId) || l.startsWith('[pitr]')).slice(-80);
      console.log(`operation: ${JSON.stringify(ended, null, 2)}\nlogs:\n${logged.join('\n')}`);
    }
    expect(ended).toMatchObject({ status: 'succeeded', kind: 'pitr-restore' });
    // The gateway routes to the restarted leader once its checks see it up (a moment after the end).
    const rows = await waitFor(
      'the URL to answer again',
      () => {
        try {
          return psql(url, 'SELECT count(*) FROM ledger');
        } catch {
          return undefined;
        }
      },
      30_000,
    );
    expect(rows).toBe('100');
    psql(url, 'INSERT INTO ledger VALUES (1000, 3)');
  }, 900_000);
});
