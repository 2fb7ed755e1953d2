import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findPlan } from '@pgfleet/contracts';
import { freePort, ownedTempDir, withClient } from '@pgfleet/postgres';
import type { NodeRuntime } from '../port.js';
import { createProcessRuntime } from './processRuntime.js';

const plan = findPlan('sandbox')!;
const homes: string[] = [];
const made: { runtime: NodeRuntime; nodeId: string }[] = [];

afterAll(async () => {
  for (const { runtime, nodeId } of made) await runtime.remove(nodeId).catch(() => undefined);
  for (const home of homes) rmSync(home, { recursive: true, force: true });
});

/** A running 13 node with a few rows, on its own home. */
async function node13(nodeId: string) {
  const home = await ownedTempDir('pgfleet-upgrade-');
  homes.push(home);
  const runtime = createProcessRuntime({ home });
  const info = await runtime.create({ clusterId: 'up', nodeId, major: 13, port: await freePort() });
  made.push({ runtime, nodeId });
  await runtime.initialize(nodeId, { plan });
  await runtime.start(nodeId);
  const sql = (text: string) =>
    runtime.endpoint(nodeId).then((e) => withClient(e, async (q) => (await q.query(text)).rows));
  await sql('CREATE TABLE kept AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1000) g');
  return { runtime, info, sql };
}

const checksum = "SELECT count(*)::int AS n, md5(string_agg(v, ',' ORDER BY id)) AS h FROM kept";

describe('major upgrade of a node with pg_upgrade --link (13 -> 15)', () => {
  it('checks a running 13 node live, upgrades it stopped, switches it to 15 with the same rows', async () => {
    const { runtime, info, sql } = await node13('n1');
    const before = (await sql(checksum))[0];
    expect(await runtime.majorUpgrade.check('n1', { toMajor: 15 })).toEqual({ ok: true });
    expect((await runtime.status('n1')).state).toBe('running'); // checked live, nothing stopped

    await runtime.stop('n1', 'fast');
    await runtime.majorUpgrade.upgrade('n1', { toMajor: 15 });
    await runtime.majorUpgrade.upgrade('n1', { toMajor: 15 }); // a resumed step: a no-op
    // The rollback point: only pg_control was renamed in the old directory.
    expect(existsSync(join(info.dataDir, 'global', 'pg_control.old'))).toBe(true);

    await runtime.majorUpgrade.switchTo('n1', { toMajor: 15, setup: { plan } });
    await expect(runtime.majorUpgrade.discard('n1')).rejects.toMatchObject({ code: 'UPGRADE_SWITCHED' });
    await runtime.start('n1');
    const [version] = await sql("SELECT current_setting('server_version_num')::int AS v");
    expect(version.v).toBeGreaterThanOrEqual(150000);
    expect((await sql(checksum))[0]).toEqual(before);
    const upgraded = (await runtime.status('n1')).node!;
    expect(upgraded).toMatchObject({ major: 15, dataDir: expect.stringMatching(/data-15$/) });

    await runtime.majorUpgrade.removeOld('n1');
    expect(existsSync(info.dataDir)).toBe(false);
    expect((await sql(checksum))[0]).toEqual(before);
  });

  it('refuses a 13 node with a reg* column (regproc) in a user table, naming it, and leaves it as it was', async () => {
    const { runtime, info, sql } = await node13('n2');
    await sql('CREATE TABLE uses_regproc (id int, f regproc)');
    const check = await runtime.majorUpgrade.check('n2', { toMajor: 15 });
    expect(check.ok).toBe(false);
    const reasons = check.ok ? '' : check.reasons.join('\n');
    expect(reasons).toMatch(/reg\* data types in user tables/);
    expect(reasons).toMatch(/uses_regproc/);
    await runtime.majorUpgrade.discard('n2');
    expect(existsSync(join(info.dataDir, '..', 'data-15'))).toBe(false);

    // The real run is refused the same way; the old directory is put back and starts again on 13.
    await runtime.stop('n2', 'fast');
    await expect(runtime.majorUpgrade.upgrade('n2', { toMajor: 15 })).rejects.toMatchObject({
      code: 'UPGRADE_FAILED',
    });
    expect(existsSync(join(info.dataDir, 'global', 'pg_control'))).toBe(true);
    await runtime.start('n2');
    const [version] = await sql("SELECT current_setting('server_version_num')::int AS v");
    expect(version.v).toBeLessThan(140000);
    expect((await runtime.status('n2')).node).toMatchObject({ major: 13, dataDir: info.dataDir });
  });
});
