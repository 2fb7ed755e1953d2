import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamIds } from '@pgfleet/contracts';
import { createPostgresEventStore, type EventStore } from '@pgfleet/eventstore';
import { psql, sleep, startPlatform, waitFor, type TestPlatform } from './harness.js';

/**
 * The disk quota against a real PostgreSQL: a limit of 96 MiB (instead of the plan's GiB, through
 * the ha service's PGFLEET_HA_DISK_LIMIT_BYTES) measured every 300 ms, so a few tens of MB cross it.
 */
const MiB = 1024 * 1024;
const LIMIT = 96 * MiB;
const INTERVAL_MS = 300;

interface DiskShown {
  used: number | null;
  limit: number;
  over: boolean;
  overSince: string | null;
  onOverQuota: string;
}

let t: TestPlatform;
let store: EventStore;

const cli = async (...args: string[]): Promise<string> => {
  const r = await t.cli(...args);
  if (r.code !== 0) throw new Error(`pgfleet ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
};
const diskOf = async (name: string): Promise<DiskShown> =>
  (JSON.parse(await cli('cluster', 'show', name, '--json')) as { disk: DiskShown }).disk;
const diskEvents = async (clusterId: string) =>
  (await store.readStream(streamIds.disk(clusterId))).events.map((e) => ({ type: e.type, data: e.data }));
const typesOf = async (clusterId: string) => (await diskEvents(clusterId)).map((e) => e.type);

beforeAll(async () => {
  t = await startPlatform({
    PGFLEET_HA_DISK_INTERVAL_MS: String(INTERVAL_MS),
    PGFLEET_HA_DISK_LIMIT_BYTES: String(LIMIT),
  });
  store = createPostgresEventStore({ connectionString: t.platform.eventstoreUrl });
});
afterAll(async () => {
  await store?.close();
  await t?.cleanup();
});

describe('disk quota, end to end', () => {
  it(
    'data written over the limit record QuotaExceeded {kind: disk} once; a DELETE alone does not bring them ' +
      'back under, VACUUM FULL does (DiskUsageBackUnderQuota); cluster show gives used / limit all along',
    async () => {
      await cli('cluster', 'create', 'files', '--plan', 'sandbox');
      const { clusterId } = JSON.parse(await cli('cluster', 'show', 'files', '--json')) as { clusterId: string };
      const url = (await cli('cluster', 'url', 'files')).trim();

      // The first measurement is recorded as soon as the cluster is ready: under the limit.
      const first = await waitFor(
        'the first measurement',
        async () => (await diskOf('files')).used ?? undefined,
        30_000,
      );
      expect(first).toBeGreaterThan(0);
      expect(first).toBeLessThan(LIMIT);
      expect(await diskOf('files')).toMatchObject({ limit: LIMIT, over: false, onOverQuota: 'warn' });
      expect(await cli('cluster', 'show', 'files')).toMatch(/\ndisk: \d+(\.\d)? MiB \/ 96 MiB \(\d+%\)\n/);

      // ~85 MB in rows of 1000 characters (stored inline, uncompressed): over the limit whatever the base.
      psql(url, "CREATE TABLE filler AS SELECT g AS id, repeat('x', 1000) AS pad FROM generate_series(1, 80000) g");
      await waitFor('QuotaExceeded', async () => (await typesOf(clusterId)).includes('QuotaExceeded'), 30_000);
      // More measurements over the limit record no second crossing.
      await sleep(INTERVAL_MS * 5);
      const over = (await diskEvents(clusterId)).filter((e) => e.type === 'QuotaExceeded');
      expect(over).toHaveLength(1);
      const crossing = over[0]!.data as { kind: string; clusterId: string; used: number; limit: number };
      expect(crossing).toMatchObject({ kind: 'disk', clusterId, limit: LIMIT });
      expect(crossing.used).toBeGreaterThan(LIMIT);
      // Writes go on over the quota (plan: warn).
      psql(url, "INSERT INTO filler VALUES (0, 'still writable')");
      const shownOver = await diskOf('files');
      expect(shownOver).toMatchObject({ over: true, limit: LIMIT });
      expect(shownOver.used).toBeGreaterThan(LIMIT);
      expect(await cli('cluster', 'show', 'files')).toMatch(
        /\ndisk: \d+(\.\d)? MiB \/ 96 MiB \(1\d\d%\), over quota since \S+: writes go on \(plan: warn\)\n/,
      );

      // DELETE leaves the table's files as large as they were: still over.
      psql(url, 'DELETE FROM filler');
      await sleep(INTERVAL_MS * 4);
      expect(await typesOf(clusterId)).not.toContain('DiskUsageBackUnderQuota');
      // VACUUM FULL rewrites the table into new, empty files: back under the limit.
      psql(url, 'VACUUM FULL filler');
      await waitFor(
        'DiskUsageBackUnderQuota',
        async () => (await typesOf(clusterId)).includes('DiskUsageBackUnderQuota'),
        30_000,
      );
      const types = await typesOf(clusterId);
      expect(types.filter((x) => x === 'QuotaExceeded')).toHaveLength(1);
      expect(types.filter((x) => x === 'DiskUsageBackUnderQuota')).toHaveLength(1);
      const shownBack = await diskOf('files');
      expect(shownBack).toMatchObject({ over: false, overSince: null, limit: LIMIT });
      expect(shownBack.used).toBeLessThan(LIMIT);

      // Idle, the size does not move by a step: nothing more is recorded.
      const count = (await diskEvents(clusterId)).length;
      await sleep(INTERVAL_MS * 4);
      expect((await diskEvents(clusterId)).length).toBe(count);
    },
  );
});
