import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPlan, type Plan } from '@pgfleet/contracts';
import { createReplicationRole, freePort, generatePassword, withClient } from '@pgfleet/postgres';
import type { NodeRuntime } from '../port.js';
import { LABEL } from './containers.js';
import { createDockerRuntime } from './dockerRuntime.js';
import { eventually, startTestHost, type TestHost } from './testing/podmanHost.js';

const plan: Plan = findPlan('sandbox')!;
const a = 'dpa';
const b = 'dpb';
const u = 'dpu';
const [a1, a2, b1, b2] = [`${a}--n1`, `${a}--n2`, `${b}--n1`, `${b}--n2`];
const [u1, u2] = [`${u}--n1`, `${u}--n2`];
const replicatorPassword = generatePassword();
let host: TestHost;
let repo: string;
let runtime: NodeRuntime;
const ports: Record<string, number> = {};
const timings: Record<string, number> = {};

const sql = async <T extends Record<string, unknown>>(nodeId: string, text: string): Promise<T[]> =>
  withClient(await runtime.endpoint(nodeId), async (q) => (await q.query<T>(text)).rows);
const values = async (nodeId: string) =>
  (await sql<{ v: number }>(nodeId, 'SELECT v FROM t ORDER BY v')).map((r) => r.v);
const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
  const started = Date.now();
  const r = await fn();
  timings[name] = Date.now() - started;
  return r;
};

const leaderOf = async (nodeId: string) => ({
  ...(await runtime.peerAddress(nodeId)),
  user: 'replicator',
  password: replicatorPassword,
});

beforeAll(async () => {
  host = await startTestHost('pgfleet-dka-');
  for (const n of [a1, a2, b1, b2, u1, u2]) ports[n] = await freePort();
  const home = join(host.tmp, 'home');
  repo = join(home, 'docker', 'pitr', 'repo');
  runtime = createDockerRuntime({ home, docker: host.service.socketPath, image: host.image });
}, 20 * 60_000);

afterAll(async () => {
  console.log(`docker archive timings (ms): ${JSON.stringify(timings)}`);
  await host?.cleanup([a, b, u], [`${LABEL.role}=pitr`]);
}, 120_000);

describe('docker driver: pgBackRest archive, restore to a time, rewind and cold copy', () => {
  let beforeBatch3 = '';

  it('archives a leader and its clone into one stanza of the shared repository, backed up from a standby', async () => {
    const archive = { stanza: a };
    await runtime.create({ clusterId: a, nodeId: a1, major: 15, port: ports[a1]! });
    await timed('initLeader', () => runtime.initialize(a1, { plan, archive }));
    await runtime.start(a1);
    await createReplicationRole(await runtime.endpoint(a1), { role: 'replicator', password: replicatorPassword });
    await timed('createStanza', () => runtime.archive.createStanza(a, a1));
    await runtime.create({ clusterId: a, nodeId: a2, major: 15, port: ports[a2]! });
    await runtime.cloneFrom(a2, { plan, archive, leader: await leaderOf(a1), slotName: 'n2' });
    await runtime.start(a2);
    const settings = await sql<{ name: string; setting: string }>(
      a2,
      "SELECT name, setting FROM pg_settings WHERE name IN ('archive_mode', 'archive_command') ORDER BY name",
    );
    expect(settings[0]!.setting).toContain(`archive-push`);
    expect(settings[0]!.setting).toContain(`--repo1-path=${repo}`);
    expect(settings[1]).toEqual({ name: 'archive_mode', setting: 'on' });

    await sql(a1, 'CREATE TABLE t (v int)');
    await sql(a1, 'INSERT INTO t SELECT generate_series(1, 10)');
    await eventually(
      () => values(a2),
      (v) => v.length === 10,
    );
    const backup = await timed('backupFromStandby', () =>
      runtime.archive.backup(a, { leaderNodeId: a1, standbyNodeId: a2 }),
    );
    expect(backup).toMatchObject({ type: 'full', timeline: 1 });
    // pgBackRest waited for the standby to replay the backup's start, then copied its files.
    const log = await runtime.exec(a1, 'cat', [`/pgfleet/pitr/log/${a}-backup.log`]);
    expect(log.stdout).toContain('replay on the standby reached');
    await timed('check', () => runtime.archive.check(a, a1));
    // The repository is the host's directory: every container wrote into this one stanza.
    expect(readdirSync(join(repo, 'backup', a))).toContain(backup.label);
    const info = await runtime.archive.info(a);
    expect(info).toMatchObject({ stanza: a, status: 'ok', backups: [{ label: backup.label }] });
    expect(info.walMax).toMatch(/^[0-9A-F]{24}$/);
  });

  it('restores a node of another cluster to a time between two batches: batches 1-2 there, 3 not', async () => {
    await sql(a1, 'INSERT INTO t SELECT generate_series(11, 20)');
    await new Promise((r) => setTimeout(r, 1100));
    beforeBatch3 = (
      await sql<{ now: string }>(
        a1,
        'SELECT to_char(clock_timestamp() AT TIME ZONE \'UTC\', \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\') AS now',
      )
    )[0]!.now;
    await new Promise((r) => setTimeout(r, 1100));
    await sql(a1, 'INSERT INTO t SELECT generate_series(21, 30)');
    await runtime.archive.check(a, a1); // switches the WAL segment and waits for it in the repository

    await runtime.create({ clusterId: b, nodeId: b1, major: 15, port: ports[b1]! });
    const early = runtime.archive.restore(b1, { stanza: a, targetTime: '2020-01-01T00:00:00Z', setup: { plan } });
    await expect(early).rejects.toThrow(/before the recovery window of stanza dpa/);
    await timed('restoreToTime', () =>
      runtime.archive.restore(b1, { stanza: a, targetTime: beforeBatch3, setup: { plan } }),
    );
    const restored = await values(b1);
    expect(restored).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await sql(b1, 'SELECT pg_is_in_recovery() AS rec')).toEqual([{ rec: false }]);
    expect(await runtime.isInitialized(b1)).toBe(true);
  });

  it('copies the stopped restored leader cold into a new follower that then streams from it', async () => {
    await runtime.stop(b1);
    await runtime.create({ clusterId: b, nodeId: b2, major: 15, port: ports[b2]! });
    await timed('copyStopped', async () =>
      runtime.copyStopped(b2, { plan, sourceNodeId: b1, leader: await leaderOf(b1), slotName: 'n2' }),
    );
    await runtime.start(b1);
    await sql(b1, "SELECT pg_create_physical_replication_slot('n2')");
    await runtime.start(b2);
    await sql(b1, 'INSERT INTO t VALUES (100)');
    await eventually(
      () => values(b2),
      (v) => v.includes(100),
    );
    expect(await sql(b1, 'SELECT application_name, state FROM pg_stat_replication')).toEqual([
      { application_name: 'n2', state: 'streaming' },
    ]);
    const exists = await runtime.exec(b2, 'test', ['-e', 'pgfleet.cloned']);
    expect(exists.code).not.toBe(0);
  });

  it('rewinds the old leader after its follower was promoted, and makes it a standby of the new one', async () => {
    await runtime.fence(a1);
    await runtime.promote(a2);
    await sql(a2, 'INSERT INTO t VALUES (31)');
    await runtime.stop(a1);
    await timed('rewind', () => runtime.rewind(a1, a2));
    await sql(a2, "SELECT pg_create_physical_replication_slot('n1')");
    await runtime.follow(a1, await leaderOf(a2), 'n1');
    await runtime.start(a1);
    await sql(a2, 'INSERT INTO t VALUES (32)');
    const v = await eventually(
      () => values(a1),
      (rows) => rows.includes(32),
    );
    expect(v.slice(-3)).toEqual([30, 31, 32]);
    expect(await sql(a1, 'SELECT pg_is_in_recovery() AS rec')).toEqual([{ rec: true }]);
    // The new leader archives on timeline 2 into the same stanza.
    await runtime.archive.check(a, a2);
  });

  it('expire keeps a recent backup; remove deletes the stanza and its files', async () => {
    await runtime.archive.expire(a, { keepDays: 1 });
    expect((await runtime.archive.info(a)).backups).toHaveLength(1);
    await runtime.archive.remove(a);
    expect(await runtime.archive.info(a)).toMatchObject({ status: 'missing', backups: [] });
    expect(existsSync(join(repo, 'archive', a))).toBe(false);
    expect(existsSync(join(repo, 'backup', a))).toBe(false);
    await runtime.archive.remove(a); // idempotent
  });

  it('upgrades a node 13 -> 15 with pg_upgrade --link on its volume, into a container of the new major', async () => {
    await runtime.create({ clusterId: u, nodeId: u1, major: 13, port: ports[u1]! });
    await runtime.initialize(u1, { plan });
    await runtime.start(u1);
    await sql(u1, 'CREATE TABLE t AS SELECT generate_series(1, 5) AS v');
    expect(await timed('upgradeCheck', () => runtime.majorUpgrade.check(u1, { toMajor: 15 }))).toEqual({ ok: true });
    const address = (await runtime.endpoint(u1)).host;
    await runtime.stop(u1);
    await timed('upgrade', () => runtime.majorUpgrade.upgrade(u1, { toMajor: 15 }));
    await runtime.majorUpgrade.upgrade(u1, { toMajor: 15 }); // done: a no-op
    await timed('switchTo', () => runtime.majorUpgrade.switchTo(u1, { toMajor: 15, setup: { plan } }));
    await runtime.majorUpgrade.switchTo(u1, { toMajor: 15, setup: { plan } }); // repeated: rewrites the configuration
    await expect(runtime.majorUpgrade.discard(u1)).rejects.toMatchObject({ code: 'UPGRADE_SWITCHED' });
    await runtime.start(u1);
    expect(await sql(u1, "SELECT current_setting('server_version_num')::int / 10000 AS major")).toEqual([
      { major: 15 },
    ]);
    expect(await values(u1)).toEqual([1, 2, 3, 4, 5]);
    // Its new container has the address of the old one: the gateways reach it at once.
    expect((await runtime.endpoint(u1)).host).toBe(address);
    expect((await runtime.list(u))[0]).toMatchObject({ nodeId: u1, major: 15, state: 'running' });
    await runtime.majorUpgrade.removeOld(u1);
    expect((await runtime.exec(u1, 'test', ['-e', '/pgfleet/data-13'])).code).not.toBe(0);
  });

  it('refuses a 13 node with a regproc column, naming it, and leaves it on 13 as it was', async () => {
    await runtime.create({ clusterId: u, nodeId: u2, major: 13, port: ports[u2]! });
    await runtime.initialize(u2, { plan });
    await runtime.start(u2);
    await sql(u2, 'CREATE TABLE uses_regproc (id int, f regproc)');
    const check = await runtime.majorUpgrade.check(u2, { toMajor: 15 });
    const reasons = check.ok ? '' : check.reasons.join('\n');
    expect(reasons).toMatch(/reg\* data types in user tables/);
    expect(reasons).toMatch(/uses_regproc/);
    await runtime.majorUpgrade.discard(u2);
    expect((await runtime.exec(u2, 'test', ['-e', '/pgfleet/data-15'])).code).not.toBe(0);

    await runtime.stop(u2);
    const upgrade = runtime.majorUpgrade.upgrade(u2, { toMajor: 15 });
    await expect(upgrade).rejects.toMatchObject({ code: 'UPGRADE_FAILED', message: /uses_regproc/ });
    await runtime.start(u2);
    expect(await sql(u2, "SELECT current_setting('server_version_num')::int / 10000 AS major")).toEqual([
      { major: 13 },
    ]);
    expect((await runtime.status(u2)).node).toMatchObject({ major: 13 });
  });
});
