import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamIds } from '@pgfleet/contracts';
import { requestBackup, setBackupSchedule } from './commands.js';
import { sql, startBackupWorld, type BackupWorld } from './testing/cluster.fixture.js';
import { processBackups } from './workers/processBackups.js';
import { loadBackups } from './workers/record.js';
import { BackupWork } from './workers/backupWork.js';
import { retainBackups } from './workers/deletedCluster.js';
import { DailyScheduler } from './workers/schedule.js';

let w: BackupWorld;
const meta = { actor: { kind: 'user', id: 'tester' } } as const;
const events = async (clusterId: string) => (await w.store.readStream(streamIds.backups(clusterId))).events;
const ok = (reply: Awaited<ReturnType<typeof requestBackup>>) => {
  if (!reply.ok) throw new Error(`${reply.code}: ${reply.message}`);
  return reply.result!.backupId as string;
};

beforeAll(async () => {
  w = await startBackupWorld({ follower: false });
  await sql(
    w.superuser(w.leader, 'app'),
    `SET ROLE app; CREATE TABLE t (id int PRIMARY KEY, v text);
    INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g;`,
  );
});
afterAll(async () => {
  await w?.close();
});

describe('on-demand backup quotas (starter: 10 rolling, 20 a day)', () => {
  const C = 'st1';
  it('refuses backups on a sandbox cluster', async () => {
    await w.writeCluster('sb1', 'sandbox', [w.leader], 'play');
    expect(await requestBackup(w.deps, { clusterId: 'sb1' }, meta)).toMatchObject({
      ok: false,
      code: 'BACKUPS_NOT_IN_PLAN',
    });
    expect(await events('sb1')).toEqual([]);
  });

  it(
    'at the rolling limit writes QuotaExceeded, BackupEvicted (the oldest), BackupRequested in this order, ' +
      'and the evicted file goes',
    async () => {
      await w.writeCluster(C, 'starter-512', [w.leader]);
      const first: string[] = [];
      for (let i = 0; i < 10; i++) first.push(ok(await requestBackup(w.deps, { clusterId: C }, meta)));
      const outcomes = await processBackups(w.deps, C);
      expect(outcomes.map((o) => o.status)).toEqual(Array(10).fill('completed'));
      expect(await w.deps.files.list(C)).toEqual([...first].sort());

      const before = (await events(C)).length;
      const reply = await requestBackup(w.deps, { clusterId: C }, meta);
      expect(reply).toMatchObject({ ok: true, result: { evicted: first[0] } });
      const eleventh = ok(reply);
      const appended = (await events(C)).slice(before);
      expect(appended.map((e) => [e.type, e.data])).toEqual([
        ['QuotaExceeded', { clusterId: C, quota: 'backups.manual.total', limit: 10, used: 10 }],
        ['BackupEvicted', { clusterId: C, backupId: first[0] }],
        ['BackupRequested', { clusterId: C, backupId: eleventh, kind: 'manual', requestedAt: expect.any(String) }],
      ]);
      await processBackups(w.deps, C);
      expect(await w.deps.files.exists(C, first[0]!)).toBe(false);
      expect(await w.deps.files.list(C)).toEqual([...first.slice(1), eleventh].sort());
      expect((await events(C)).at(-3)).toMatchObject({ type: 'BackupDeleted', data: { backupId: first[0] } });
    },
  );

  it('at the daily limit refuses with one sentence after QuotaExceeded and BackupRejected', async () => {
    // 11 requested today so far; 9 more reach the limit of 20 (each evicting one to stay at 10).
    for (let i = 0; i < 9; i++) ok(await requestBackup(w.deps, { clusterId: C }, meta));
    const before = (await events(C)).length;
    const reply = await requestBackup(w.deps, { clusterId: C }, meta);
    expect(reply).toEqual({
      ok: false,
      code: 'QUOTA_EXCEEDED',
      message: 'daily on-demand backup limit (20) reached for cluster prod-db',
      details: { field: 'clusterId', quota: 'backups.manual.daily', limit: 20, used: 20 },
    });
    expect((await events(C)).slice(before).map((e) => e.type)).toEqual(['QuotaExceeded', 'BackupRejected']);
    // The next UTC day the quota is fresh again.
    const tomorrow = new Date(Date.now() + 86_400_000);
    expect(await requestBackup(w.deps, { clusterId: C }, meta, { now: tomorrow })).toMatchObject({ ok: true });
  });
});

describe('daily backups', () => {
  const C = 'st3';
  it('fire at the scheduled time (injected clock), once per slot, and retention expires old dailies', async () => {
    await w.writeCluster(C, 'starter-512', [w.leader]);
    expect(await setBackupSchedule(w.deps, { clusterId: C, at: '03:00', tz: 'Mars/Olympus' }, meta)).toMatchObject({
      ok: false,
      code: 'VALIDATION_FAILED',
    });
    expect(await setBackupSchedule(w.deps, { clusterId: C, at: '03:00', tz: 'UTC' }, meta)).toMatchObject({ ok: true });
    const scheduler = new DailyScheduler(w.deps);
    try {
      // 14 days from Monday 2030-01-07: the plan keeps the 7 latest + the latest of each of 4 weeks.
      const ids: Record<string, string> = {};
      for (let d = 0; d < 14; d++) {
        const day = new Date(Date.UTC(2030, 0, 7 + d, 3, 0, 5));
        if (d > 0) {
          // 02:50: yesterday's slot is taken
          const before = await scheduler.tick(C, new Date(day.getTime() - 10 * 60_000));
          expect(before.requested).toBeUndefined();
        }
        const r = await scheduler.tick(C, day);
        expect(r.requested).toBeDefined();
        ids[day.toISOString().slice(0, 10)] = r.requested!;
        expect((await scheduler.tick(C, new Date(day.getTime() + 3_600_000))).requested).toBeUndefined();
      }
      const state = await loadBackups(w.store, C);
      const dailies = state.backups.filter((b) => b.kind === 'daily');
      expect(dailies).toHaveLength(14);
      const expired = ['2030-01-07', '2030-01-08', '2030-01-09', '2030-01-10', '2030-01-11', '2030-01-12'].map(
        (d) => ids[d]!,
      );
      expect(
        dailies
          .filter((b) => b.status === 'deleted')
          .map((b) => b.backupId)
          .sort(),
      ).toEqual([...expired].sort());
      expect(dailies.filter((b) => b.status === 'completed')).toHaveLength(8);
      const expiredEvents = (await events(C)).flatMap((e) => (e.type === 'BackupExpired' ? [e.data.backupId] : []));
      expect(expiredEvents.sort()).toEqual([...expired].sort());
      for (const id of expired) expect(await w.deps.files.exists(C, id)).toBe(false);
      expect(await w.deps.files.list(C)).toHaveLength(8);
    } finally {
      await scheduler.stop();
    }
  });

  it(
    'runs a slot missed while the platform was down once at start, ' + 'and arms node-cron at HH:MM in the zone',
    async () => {
      let now = new Date(Date.UTC(2030, 0, 25, 9, 0)); // down since the 20th: the 21st..25th slots were missed
      const scheduler = new DailyScheduler(w.deps, () => now);
      try {
        const count = async () => (await loadBackups(w.store, C)).backups.filter((b) => b.kind === 'daily').length;
        const before = await count();
        await scheduler.start([C]);
        expect(await count()).toBe(before + 1);
        await scheduler.start([C]);
        expect(await count()).toBe(before + 1);
        const next = scheduler.nextRun(C)!;
        expect([next.getUTCHours(), next.getUTCMinutes()]).toEqual([3, 0]);
        now = new Date(Date.UTC(2030, 0, 26, 3, 0, 1));
        await setBackupSchedule(w.deps, { clusterId: C, at: '04:30', tz: 'Asia/Tokyo' }, meta);
        await scheduler.watch(C);
        const rearmed = scheduler.nextRun(C)!;
        expect([rearmed.getUTCHours(), rearmed.getUTCMinutes()]).toEqual([19, 30]); // 04:30 in Tokyo (UTC+9, no DST)
      } finally {
        await scheduler.stop();
      }
    },
  );
});

describe('a deleted cluster', () => {
  const C = 'st9';
  it(
    'loses its schedule at once (BackupScheduleRemoved); its backups are kept until the plan retention after ' +
      'the delete (BackupsRetained), then each expires and its file goes (injected clock)',
    async () => {
      await w.writeCluster(C, 'starter-512', [w.leader]);
      expect(await setBackupSchedule(w.deps, { clusterId: C, at: '03:00', tz: 'UTC' }, meta)).toMatchObject({
        ok: true,
      });
      const kept = [ok(await requestBackup(w.deps, { clusterId: C }, meta))];
      await processBackups(w.deps, C);
      kept.push(ok(await requestBackup(w.deps, { clusterId: C }, meta)));
      await processBackups(w.deps, C);
      const deleted = [
        { type: 'ClusterDeletionRequested', data: {} },
        { type: 'ClusterDeleted', data: {} },
      ] as const;
      await w.store.appendToStream(streamIds.cluster(C), [...deleted]);
      const deletedAt = '2030-03-01T10:00:00.000Z';

      // Starter keeps dailies 7 days and weekly ones 4 weeks: everything is kept 28 days after the delete.
      const until = '2030-03-29T10:00:00.000Z';
      expect(await retainBackups(w.deps, C, deletedAt)).toBe(until);
      expect(await retainBackups(w.deps, C, deletedAt)).toBe(until); // once only
      const retained = (await events(C)).filter((e) => ['BackupScheduleRemoved', 'BackupsRetained'].includes(e.type));
      expect(retained.map((e) => [e.type, e.data])).toEqual([
        ['BackupScheduleRemoved', { clusterId: C }],
        ['BackupsRetained', { clusterId: C, until, backupIds: kept }],
      ]);
      expect((await loadBackups(w.store, C)).schedule).toBeUndefined();

      let now = new Date(Date.parse(until) - 60_000);
      const work = new BackupWork(w.deps, () => now);
      await work.resume([]);
      try {
        await work.request(C);
        expect((await w.deps.files.list(C)).sort()).toEqual([...kept].sort());
        expect((await events(C)).filter((e) => e.type === 'BackupExpired')).toEqual([]);

        now = new Date(Date.parse(until) + 1000);
        await work.request(C);
        const gone = async (type: string) => (await events(C)).flatMap((e) => (e.type === type ? [e.data] : []));
        expect(await gone('BackupExpired')).toEqual(kept.map((backupId) => ({ backupId })));
        expect(await gone('BackupDeleted')).toEqual(kept.map((backupId) => ({ backupId })));
        expect(await w.deps.files.list(C)).toEqual([]);
      } finally {
        await work.stop();
      }
    },
  );
});
