import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { findPlan } from '@pgfleet/contracts';
import { ensureOwnedDir, freePort, INITDB_OPTIONS, ownedTempDir, runAsPostgresOk, toolchain } from '@pgfleet/postgres';
import { createProcessRuntime } from '@pgfleet/runtime';

/**
 * The raw baseline: a lone PostgreSQL 13 node of the process runtime filled by `pgbench -i -s
 * SCALE` (the same data as the cluster's), stopped; a fresh initdb of 15 beside it (not timed:
 * pgfleet makes its own while the cluster still runs); then, timed, what a DBA's downtime is at the
 * least: `pg_upgrade --link` of the stopped node and `pg_ctl start -w` of the new one. Returns ms.
 */
export async function rawUpgradeMs(home: string, scale: number): Promise<number> {
  const runtime = createProcessRuntime({ home });
  const nodeId = `raw-upgrade-${scale}`;
  const node = await runtime.create({ clusterId: 'bench-raw', nodeId, major: 13, port: await freePort() });
  const scratch = await ownedTempDir('pgfleet-rawup-');
  const newDir = join(scratch, 'data-15');
  try {
    await runtime.initialize(nodeId, { plan: findPlan('business-1024')! });
    await runtime.start(nodeId);
    const init = await runtime.exec(nodeId, 'pgbench', ['-i', '-q', '-s', String(scale), 'postgres']);
    if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
    await runtime.stop(nodeId, 'fast');
    ensureOwnedDir(newDir);
    await runAsPostgresOk(toolchain(15).bin('initdb'), ['-D', newDir, ...INITDB_OPTIONS]);
    const t0 = performance.now();
    await runAsPostgresOk(
      toolchain(15).bin('pg_upgrade'),
      [
        ...['-b', toolchain(13).binDir, '-B', toolchain(15).binDir, '-d', node.dataDir, '-D', newDir],
        ...['-p', String(node.port), '-P', String(await freePort()), '-U', 'postgres', '-s', scratch, '--link'],
      ],
      { cwd: scratch },
    );
    const port = String(await freePort());
    const opts = `-c port=${port} -c listen_addresses='' -c unix_socket_directories=${scratch}`;
    await runAsPostgresOk(toolchain(15).bin('pg_ctl'), [
      '-D',
      newDir,
      '-o',
      opts,
      '-l',
      join(scratch, 'log'),
      '-w',
      'start',
    ]);
    const ms = performance.now() - t0;
    await runAsPostgresOk(toolchain(15).bin('pg_ctl'), ['-D', newDir, '-m', 'immediate', '-w', 'stop']);
    return ms;
  } finally {
    await runtime.remove(nodeId).catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  }
}
