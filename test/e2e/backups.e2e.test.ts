import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { tailEvents } from '@pgfleet/bus';
import { eventFilter, streamIds, type EventEnvelope } from '@pgfleet/contracts';
import { createPostgresEventStore, type EventStore } from '@pgfleet/eventstore';
import { psql, startPlatform, waitFor, type TestPlatform } from './harness.js';

interface NodeRow {
  nodeId: string;
  role: string;
  port: number;
}
interface Shown {
  clusterId: string;
  status: string;
  nodes: NodeRow[];
}
interface BackupRow {
  id: string;
  kind: string;
  status: string;
  size: number | null;
  sha256: string | null;
  started: string | null;
  duration: number | null;
  node: string | null;
}

const PG_RESTORE = '/usr/lib/postgresql/15/bin/pg_restore';

let t: TestPlatform;
let store: EventStore;
let downloads: string;

const json = async <T>(...args: string[]): Promise<T> => {
  const r = await t.cli(...args, '--json');
  if (r.code !== 0) throw new Error(`pgfleet ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
};
const ok = async (...args: string[]) => {
  const r = await t.cli(...args);
  expect(r.code, `pgfleet ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
};
const urlOf = async (name: string) => (await json<{ url: string }>('cluster', 'url', name)).url;

/** Every table of the public schema with its row count and a checksum of its whole content. */
function tableDigests(url: string): Record<string, string> {
  const tables = psql(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    .split('\n')
    .filter(Boolean);
  return Object.fromEntries(
    tables.map((name) => [
      name,
      psql(
        url,
        `SELECT count(*) || ' rows, md5 ' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '-') ` +
          `FROM public.${name} t`,
      ),
    ]),
  );
}

beforeAll(async () => {
  t = await startPlatform();
  store = createPostgresEventStore({ connectionString: t.platform.eventstoreUrl });
  downloads = mkdtempSync(join(tmpdir(), 'pgfleet-downloads-'));
});
afterAll(async () => {
  await store?.close();
  await t?.cleanup();
  if (downloads) rmSync(downloads, { recursive: true, force: true });
});

describe('backups, end to end through the pgfleet CLI', () => {
  it(
    'backs up a business cluster on a follower, downloads a verified pg_dump file, and restores it into a ' +
      'new cluster with identical tables',
    async () => {
      await ok('cluster', 'create', 'ledger', '--plan', 'business-1024');
      const url = await urlOf('ledger');
      psql(
        url,
        `CREATE TABLE customers(id int PRIMARY KEY, name text NOT NULL, joined timestamptz NOT NULL);
      CREATE TABLE orders(id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        customer int REFERENCES customers, total numeric(12,2), note text);
      CREATE TABLE empty_table(k text);
      INSERT INTO customers SELECT g, 'customer ' || md5(g::text), timestamptz '2026-01-01' + g * interval '1 hour'
        FROM generate_series(1, 2000) g;
      INSERT INTO orders(customer, total, note)
        SELECT 1 + g % 2000, g * 0.37, CASE WHEN g % 7 = 0 THEN NULL ELSE 'n' || g END
        FROM generate_series(1, 20000) g;`,
      );
      const source = tableDigests(url);
      expect(Object.keys(source)).toEqual(['customers', 'empty_table', 'orders']);
      expect(source.orders).toMatch(/^20000 rows/);

      const created = await t.cli('backup', 'create', 'ledger');
      expect(created.code, created.stderr).toBe(0);
      expect(created.stdout).toMatch(/^backup \S+ of ledger completed on node\d: .* sha256 [0-9a-f]{64}/);

      const shown = await json<Shown>('cluster', 'show', 'ledger');
      const followers = shown.nodes.filter((n) => n.role === 'follower').map((n) => n.nodeId);
      expect(followers).toHaveLength(2);
      const list = await json<BackupRow[]>('backup', 'list', 'ledger');
      expect(list).toHaveLength(1);
      const b = list[0]!;
      expect(b).toMatchObject({ kind: 'manual', status: 'completed' });
      expect(followers).toContain(b.node);
      expect(b.size).toBeGreaterThan(100_000);
      expect(b.duration).toBeGreaterThanOrEqual(0);
      expect(Number.isNaN(Date.parse(b.started!))).toBe(false);

      const file = join(downloads, 'ledger.dump');
      const downloaded = await t.cli('backup', 'download', 'ledger', b.id, '-o', file);
      expect(downloaded.code, downloaded.stderr).toBe(0);
      expect(downloaded.stdout).toContain(`sha256 verified: ${b.sha256}`);
      expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(b.sha256);
      const listed = spawnSync(PG_RESTORE, ['--list', file], { encoding: 'utf8' });
      expect(listed.status, listed.stderr).toBe(0);
      expect(listed.stdout).toMatch(/TABLE DATA public orders/);
      expect(listed.stdout).toMatch(/TABLE DATA public customers/);

      const restored = await t.cli('backup', 'restore', 'ledger', b.id, '--into', 'ledger-copy');
      expect(restored.code, restored.stderr).toBe(0);
      expect(restored.stdout).toContain(`restored into ledger-copy`);
      const copy = await json<Shown & { plan: string }>('cluster', 'show', 'ledger-copy');
      expect(copy).toMatchObject({ status: 'ready', plan: 'business-1024' });
      expect(copy.nodes).toHaveLength(3);
      const copyUrl = await urlOf('ledger-copy');
      expect(copyUrl).not.toBe(url);
      expect(tableDigests(copyUrl)).toEqual(source);
      // The application role owns the restored objects and keeps writing; the identity continues past
      // every restored id (a dump taken on a standby may be up to 32 values ahead: sequences are
      // WAL-logged in advance).
      const next = Number(psql(copyUrl, 'INSERT INTO orders(customer, total) VALUES (1, 1) RETURNING id'));
      expect(next).toBeGreaterThan(20000);
      expect(next).toBeLessThanOrEqual(20033);
    },
  );

  it(
    'at the rolling limit of a starter cluster the next backup records QuotaExceeded, BackupEvicted ' +
      '(oldest), BackupRequested in order; the file goes; JetStream delivers QuotaExceeded; the daily limit ' +
      'refuses',
    async () => {
      await ok('cluster', 'create', 'shop', '--plan', 'starter-512');
      psql(
        await urlOf('shop'),
        'CREATE TABLE items(id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 100)',
      );
      const { clusterId } = await json<Shown>('cluster', 'show', 'shop');
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) ids.push((await json<BackupRow>('backup', 'create', 'shop')).id);
      const fileOf = (id: string) => join(t.home, 'backups', clusterId, `${id}.dump`);
      for (const id of ids) expect(existsSync(fileOf(id))).toBe(true);

      const nc = await t.connectNats('e2e-quota-watch');
      const received: EventEnvelope[] = [];
      const tail = await tailEvents({
        js: jetstream(nc),
        filter: eventFilter({ type: 'QuotaExceeded' }),
        onEvent: (e) => {
          received.push(e);
        },
      });
      try {
        const eleventh = await json<BackupRow & { evicted: string }>('backup', 'create', 'shop');
        expect(eleventh.status).toBe('completed');
        expect(eleventh.evicted).toBe(ids[0]);

        const { events } = await store.readStream(streamIds.backups(clusterId));
        const at = events.findIndex((e) => e.type === 'QuotaExceeded');
        expect(events.slice(at, at + 3).map((e) => [e.type, (e.data as { backupId?: string }).backupId])).toEqual([
          ['QuotaExceeded', undefined],
          ['BackupEvicted', ids[0]],
          ['BackupRequested', eleventh.id],
        ]);
        expect(events[at]!.data).toMatchObject({ quota: 'backups.manual.total', limit: 10, used: 10 });

        await waitFor(
          'the evicted backup to be deleted',
          async () =>
            (await json<BackupRow[]>('backup', 'list', 'shop', '--all')).find((x) => x.id === ids[0])?.status ===
            'deleted',
          30_000,
        );
        // By default the list shows the available backups only; --all shows the evicted one too, with its status.
        const available = await json<BackupRow[]>('backup', 'list', 'shop');
        expect(available.map((b) => b.id)).not.toContain(ids[0]);
        expect(available.every((b) => ['completed', 'running', 'requested'].includes(b.status))).toBe(true);
        expect(available.map((b) => b.id).sort()).toEqual([...ids.slice(1), eleventh.id].sort());
        const all = await t.cli('backup', 'list', 'shop', '--all');
        expect(all.stdout).toMatch(new RegExp(`${ids[0]}\\s+manual\\s+deleted`));
        expect(existsSync(fileOf(ids[0]!))).toBe(false);
        for (const id of [...ids.slice(1), eleventh.id]) expect(existsSync(fileOf(id))).toBe(true);

        const seen = await waitFor(
          'QuotaExceeded on JetStream',
          () => received.find((e) => e.streamId === streamIds.backups(clusterId)),
          30_000,
        );
        expect(seen.data).toMatchObject({ clusterId, quota: 'backups.manual.total', limit: 10 });
      } finally {
        await tail.stop();
        await nc.close();
      }

      // 11 on-demand backups so far today; the starter plan allows 20 a day.
      for (let i = 11; i < 20; i++)
        expect((await t.cli('backup', 'create', 'shop', '--no-wait', '--json')).code).toBe(0);
      const refused = await t.cli('backup', 'create', 'shop');
      expect(refused.code).not.toBe(0);
      expect(refused.stderr.trim()).toBe('error: daily on-demand backup limit (20) reached for cluster shop');
      const { events } = await store.readStream(streamIds.backups(clusterId));
      const daily = events.findIndex(
        (e) => e.type === 'QuotaExceeded' && (e.data as { quota: string }).quota === 'backups.manual.daily',
      );
      expect(events[daily]!.data).toMatchObject({ limit: 20, used: 20 });
      expect(events[daily + 1]).toMatchObject({ type: 'BackupRejected', data: { code: 'QUOTA_EXCEEDED' } });
    },
  );

  it('restores a backup in place: rows deleted after the backup are back', async () => {
    const completed = (await json<BackupRow[]>('backup', 'list', 'shop')).filter((b) => b.status === 'completed');
    const url = await urlOf('shop');
    psql(url, 'DELETE FROM items WHERE id > 10');
    expect(psql(url, 'SELECT count(*) FROM items')).toBe('10');
    const restored = await ok('backup', 'restore', 'shop', completed.at(-1)!.id);
    expect(restored.stdout).toContain('restored into shop');
    expect(psql(url, 'SELECT count(*), sum(id) FROM items')).toBe('100|5050');
  });

  it(
    'sets the daily schedule and rejects bad input, sandbox backups and unknown backups with one sentence ' +
      'and a non-zero exit',
    async () => {
      const set = await json<{ at: string; tz: string }>(
        'backup',
        'schedule',
        'shop',
        '--at',
        '03:30',
        '--tz',
        'Europe/Paris',
      );
      expect(set).toMatchObject({ at: '03:30', tz: 'Europe/Paris' });
      const listed = await t.cli('backup', 'list', 'shop');
      expect(listed.stdout).toContain('daily backup at 03:30 Europe/Paris');

      const badTime = await t.cli('backup', 'schedule', 'shop', '--at', '25:00');
      expect(badTime.code).not.toBe(0);
      expect(badTime.stderr).toContain('--at: must be HH:MM (24-hour)');
      const badZone = await t.cli('backup', 'schedule', 'shop', '--at', '03:30', '--tz', 'Mars/Olympus');
      expect(badZone.code).not.toBe(0);
      expect(badZone.stderr).toContain('unknown time zone "Mars/Olympus"');

      await ok('cluster', 'create', 'play', '--plan', 'sandbox');
      const sandbox = await t.cli('backup', 'create', 'play');
      expect(sandbox.code).not.toBe(0);
      expect(sandbox.stderr.trim()).toBe(
        'error: the sandbox plan of cluster play has no backups; change to a starter or business plan',
      );
      const sandboxJson = await t.cli('backup', 'create', 'play', '--json');
      expect(sandboxJson.code).not.toBe(0);
      expect(JSON.parse(sandboxJson.stdout)).toMatchObject({ code: 'BACKUPS_NOT_IN_PLAN' });

      const unknown = await t.cli('backup', 'download', 'shop', 'no-such-backup', '-o', join(downloads, 'x.dump'));
      expect(unknown.code).not.toBe(0);
      expect(unknown.stderr).toContain('cluster shop has no backup no-such-backup');
      expect(existsSync(join(downloads, 'x.dump'))).toBe(false);
      const noCluster = await t.cli('backup', 'list', 'ghost');
      expect(noCluster.code).not.toBe(0);
      expect(noCluster.stderr).toContain('no cluster named ghost');
    },
  );
});

describe('backup crash safety', () => {
  it(
    'kill -9 of the backup service in the middle of a dump: after its restart the backup is marked ' +
      'failed, no partial file is listed, no second dump runs, and the next backup works',
    async () => {
      await ok('cluster', 'create', 'bulky', '--plan', 'starter-512');
      const url = await urlOf('bulky');
      const init = spawnSync('/usr/lib/postgresql/15/bin/pgbench', ['-i', '-q', '-s', '20', url], { encoding: 'utf8' });
      expect(init.status, init.stderr).toBe(0);
      const { clusterId } = await json<Shown>('cluster', 'show', 'bulky');

      const accepted = await json<{ result: { backupId: string } }>('backup', 'create', 'bulky', '--no-wait');
      const backupId = accepted.result.backupId;
      await waitFor(
        'the dump to be running',
        async () => {
          const rows = await json<BackupRow[]>('backup', 'list', 'bulky');
          return rows.find((b) => b.id === backupId)?.status === 'running' || undefined;
        },
        60_000,
      );
      // Progress while it runs: bytes so far, answered live by the backup service over NATS.
      const token = readFileSync(join(t.home, 'api-token'), 'utf8').trim();
      const progressed = await waitFor(
        'bytes of the running dump',
        async () => {
          const res = await fetch(`${t.platform.apiUrl}/v1/clusters/bulky/backups/${backupId}`, {
            headers: { authorization: `Bearer ${token}` },
          });
          const shown = (await res.json()) as BackupRow & { progress: { bytes: number } | null };
          if (shown.status !== 'running') throw new Error(`the dump is ${shown.status} before any progress was seen`);
          return shown.progress && shown.progress.bytes > 0 ? shown.progress.bytes : undefined;
        },
        30_000,
      );
      expect(progressed).toBeGreaterThan(0);
      const victim = t.platform.services().find((s) => s.name === 'backup')!.pid!;
      process.kill(victim, 'SIGKILL');

      const settled = await waitFor(
        'the interrupted backup to be settled',
        async () => {
          const rows = await json<BackupRow[]>('backup', 'list', 'bulky', '--all');
          const row = rows.find((b) => b.id === backupId);
          return row && row.status !== 'running' && row.status !== 'requested' ? row : undefined;
        },
        120_000,
      );
      expect(t.platform.services().find((s) => s.name === 'backup')!.pid).not.toBe(victim);
      expect(settled.status).toBe('failed');
      const dir = join(t.home, 'backups', clusterId);
      const files = existsSync(dir) ? (await import('node:fs')).readdirSync(dir) : [];
      expect(files.filter((f) => f.includes(backupId))).toEqual([]);
      const { events } = await store.readStream(streamIds.backups(clusterId));
      const mine = events.filter((e) => (e.data as { backupId?: string }).backupId === backupId).map((e) => e.type);
      expect(mine.filter((type) => type === 'BackupStarted')).toHaveLength(1);
      expect(mine).not.toContain('BackupCompleted');

      const next = await json<{ id?: string; status?: string }>('backup', 'create', 'bulky');
      const rows = await json<BackupRow[]>('backup', 'list', 'bulky');
      expect(rows.filter((b) => b.status === 'completed')).toHaveLength(1);
      // The failed one is not available: only `list --all` shows it.
      expect(rows.map((b) => b.id)).not.toContain(backupId);
      const everything = await json<BackupRow[]>('backup', 'list', 'bulky', '--all');
      expect(everything.find((b) => b.id === backupId)?.status).toBe('failed');
      expect(next).toBeTruthy();

      // A long poll: one GET with ?wait answers once the backup requested without waiting has ended.
      const more = await json<{ result: { backupId: string } }>('backup', 'create', 'bulky', '--no-wait');
      const show = (query: string) =>
        fetch(`${t.platform.apiUrl}/v1/clusters/bulky/backups/${more.result.backupId}${query}`, {
          headers: { authorization: `Bearer ${token}` },
        });
      const waited = await show('?wait=60');
      expect(waited.status).toBe(200);
      expect(((await waited.json()) as BackupRow).status).toBe('completed');
      const refused = await show('?wait=61');
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'wait' } });
    },
  );
});
