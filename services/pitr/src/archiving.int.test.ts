import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { streamIds } from '@pgfleet/contracts';
import { createLogger } from '@pgfleet/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeExpiredArchive } from './workers/deletedArchive.js';
import { startPitrWorld, type PitrWorld } from './testing/pitr.fixture.js';

let w: PitrWorld;
const C = 'shop1';

/** Write a little and switch WAL segment: one more segment for archive_command. */
const writeAndSwitch = async (clusterId = C) => {
  await w.sql(clusterId, 'CREATE TABLE IF NOT EXISTS t (v text); INSERT INTO t VALUES (md5(random()::text))');
  await w.sql(clusterId, 'SELECT pg_switch_wal()');
};

/** Every directory under `root` to `mode` (the repository made unwritable, then writable again). */
function chmodDirs(root: string, mode: number) {
  chmodSync(root, mode);
  for (const name of readdirSync(root)) {
    const path = join(root, name);
    if (statSync(path).isDirectory()) chmodDirs(path, mode);
  }
}

beforeAll(async () => {
  w = await startPitrWorld({ PGFLEET_PITR_MONITOR_SECONDS: '1', PGFLEET_PITR_LAG_THRESHOLD_SECONDS: '3600' });
});
afterAll(async () => {
  await w?.close();
});

describe('continuous archiving of a Starter cluster (real PostgreSQL, pgBackRest, NATS, event store)', () => {
  const enabling =
    'a ready starter cluster gets its stanza, WAL archiving and a first full backup; a sandbox gets nothing';
  it(enabling, async () => {
    await w.writeCluster('play1', 'sandbox');
    await w.writeCluster(C, 'starter-512', { node: true });
    const enabled = await w.waitFor(C, 'ContinuousBackupEnabled');
    expect(enabled.data).toEqual({ clusterId: C, stanza: C, node: 'node1' });
    const completed = await w.waitFor(C, 'PitrBackupCompleted', 180_000);
    expect(completed.data).toMatchObject({ label: expect.stringMatching(/F$/), size: expect.any(Number) });
    expect((await w.pitrEvents(C)).map((e) => e.type)).toEqual([
      'ContinuousBackupEnabled',
      'PitrBackupRequested',
      'PitrBackupStarted',
      'PitrBackupCompleted',
    ]);
    expect(await w.pitrEvents('play1')).toEqual([]);
  });

  it('pitr status: the window [earliest, latest] runs from the full backup to the last archived WAL', async () => {
    await writeAndSwitch();
    let status: Record<string, unknown> = {};
    for (let i = 0; i < 60; i++) {
      status = await w.query('PitrArchiver', { clusterId: C });
      const archiver = status.archiver as { pendingSegments: number; lastArchivedAt: string | null } | null;
      if (archiver && archiver.pendingSegments === 0 && archiver.lastArchivedAt) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const window = status.window as { earliest: string; latest: string };
    const completed = await w.waitFor(C, 'PitrBackupCompleted');
    expect(window.earliest).toBe((completed.data as { stopAt: string }).stopAt);
    expect(Date.parse(window.earliest)).toBeLessThanOrEqual(Date.parse(window.latest));
    expect(status.archiver).toMatchObject({ health: 'ok', lagSeconds: 0, pendingSegments: 0 });
    expect(Date.parse(String(status.nextFullBackupAt))).toBeGreaterThan(Date.now());
  });

  it('an unwritable repository records WalArchivingFailed once; writable again, WalArchivingRecovered', async () => {
    const archive = join(w.repo, 'archive', C);
    const before = (await w.pitrEvents(C)).length;
    chmodDirs(archive, 0o555);
    try {
      for (let i = 0; i < 3; i++) await writeAndSwitch();
      const failed = await w.waitFor(C, 'WalArchivingFailed', 120_000, before);
      expect((failed.data as { reason: string }).reason).toMatch(/archive_command failed/);
      await writeAndSwitch();
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      chmodDirs(archive, 0o750);
    }
    await writeAndSwitch();
    await w.waitFor(C, 'WalArchivingRecovered', 120_000, before);
    const types = (await w.pitrEvents(C)).slice(before).map((e) => e.type);
    expect(types).toEqual(['WalArchivingFailed', 'WalArchivingRecovered']);
  });

  it("a deleted cluster's archive is kept for the plan's 7 days, then removed (clock moved past it)", async () => {
    const { currentVersion } = await w.store.readStream(streamIds.cluster(C));
    await w.store.appendToStream(
      streamIds.cluster(C),
      [
        { type: 'ClusterDeletionRequested', data: {} },
        { type: 'ClusterDeleted', data: {} },
      ],
      { expectedVersion: currentVersion },
    );
    const retained = await w.waitFor(C, 'PitrArchiveRetained');
    const deleted = (await w.store.readStream(streamIds.cluster(C))).events.at(-1)!;
    const until = (retained.data as { until: string }).until;
    expect(Date.parse(until) - Date.parse(deleted.occurredAt)).toBe(7 * 86_400_000);
    const deps = { store: w.store, runtime: w.runtime, log: createLogger('pitr-test', 'silent') };
    expect(await removeExpiredArchive({ ...deps, clock: () => new Date() }, C)).toBe(false);
    expect(existsSync(join(w.repo, 'archive', C))).toBe(true);
    const later = () => new Date(Date.parse(until) + 1000);
    expect(await removeExpiredArchive({ ...deps, clock: later }, C)).toBe(true);
    expect(existsSync(join(w.repo, 'archive', C))).toBe(false);
    expect((await w.pitrEvents(C)).at(-1)).toMatchObject({ type: 'PitrArchiveRemoved', data: { clusterId: C } });
  });
});
