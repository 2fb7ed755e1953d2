/**
 * `pgfleet pitr restore NAME --to TIME --into NEW` as a user runs it (a whole new cluster: gateway,
 * TLS, roles, then its leader restored from the source's archive) beside a raw `pgbackrest restore
 * --type=time` + `pg_ctl start` + replay until promoted, from the same repository and target.
 */
import { spawn } from 'node:child_process';
import { toolchain } from '@pgfleet/postgres';
import { psql } from '../../e2e/harness.js';
import { starterCluster, timedRun } from '../backup/index.js';
import { startBenchPlatform, type TimedCli } from '../provisioning/platform.js';
import { loadNow, log, renderTable, type Figure } from '../provisioning/report.js';
import { rawRestore } from './raw.js';

const SCALE = Number(process.env.BENCH_PITR_SCALE ?? 20);
const RUNS = Number(process.env.BENCH_PITR_RUNS ?? 3);
const LOAD_SECONDS = Number(process.env.BENCH_PITR_LOAD_SECONDS ?? 120);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const serverNow = (url: string) =>
  psql(url, `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`);

/**
 * A starter cluster filled by pgbench -i, a full backup (`pgfleet pitr backup`), LOAD_SECONDS of
 * pgbench (the target 5 s before its end), the window's latest past the target; then RUNS restores
 * of each kind in alternating order.
 */
export async function runPitrCliBench(): Promise<void> {
  const loadBefore = loadNow();
  const t = await startBenchPlatform();
  const figure: Figure = {
    metric: `pitr restore --into (scale ${SCALE}, ${LOAD_SECONDS} s of WAL)`,
    pgfleet: [],
    raw: [],
    target: { maxRatio: 1.2 },
  };
  try {
    const source = await starterCluster(t, 'pitrsrc');
    const { clusterId } = JSON.parse((await t.cli('cluster', 'show', 'pitrsrc', '--json')).stdout) as {
      clusterId: string;
    };
    log(`pgbench -i -s ${SCALE}; load ${loadNow()}`);
    await timedRun(toolchain(15).bin('pgbench'), ['-i', '-q', '-s', String(SCALE), source.leaderUrl]);
    // The first full backup (taken when archiving was enabled) must end before one can be asked for.
    const backup = await (async function fullBackup(tries = 120): Promise<TimedCli> {
      try {
        return await t.cli('pitr', 'backup', 'pitrsrc', '--json');
      } catch (error) {
        if (tries === 0 || !/PITR_BACKUP_IN_PROGRESS|PITR_NOT_READY/.test(String(error))) throw error;
        await sleep(1000);
        return fullBackup(tries - 1);
      }
    })();
    log(`full backup: ${backup.ms.toFixed(0)} ms`);
    const load = spawn(toolchain(15).bin('pgbench'), ['-n', '-T', String(LOAD_SECONDS), '-c', '2', source.leaderUrl], {
      stdio: 'ignore',
    });
    await sleep((LOAD_SECONDS - 5) * 1000);
    const target = serverNow(source.leaderUrl);
    await new Promise((r) => load.once('close', r));
    for (let waited = 0; ; waited += 2) {
      const status = JSON.parse((await t.cli('pitr', 'status', 'pitrsrc', '--json')).stdout) as {
        window?: { latest: string };
      };
      if (status.window && status.window.latest >= target) break;
      if (waited > 240) throw new Error(`the window did not reach ${target} in 240 s`);
      await sleep(2000);
    }
    log(`target ${target}`);
    for (let i = 0; i < RUNS; i++) {
      const ours = async () => {
        const r = await t.cli('pitr', 'restore', 'pitrsrc', '--to', target, '--into', `pitrfork${i}`, '--json');
        figure.pgfleet.push(r.ms);
        await t.cli('cluster', 'delete', `pitrfork${i}`, '--json');
      };
      const raw = async () => figure.raw.push(await rawRestore(t.home, clusterId, target));
      if (i % 2 === 0) await ours().then(raw);
      else await raw().then(ours);
      log(`run ${i + 1}: pgfleet ${figure.pgfleet.at(-1)!.toFixed(0)} ms, raw ${figure.raw.at(-1)!.toFixed(0)} ms`);
    }
  } finally {
    await t.cleanup();
  }
  console.log(`\npitr restore through the CLI (load ${loadBefore} before, ${loadNow()} after)`);
  console.log('pgfleet = wall time of `pgfleet pitr restore NAME --to TIME --into NEW --json` (a new cluster, ready)');
  console.log('raw = pgbackrest restore --type=time + pg_ctl start + replay until promoted, same repository');
  console.log(renderTable([figure]));
}
