/**
 * Write downtime of `pgfleet upgrade NAME --to 15` on a Business cluster filled by pgbench at two
 * scales, beside a raw `pg_upgrade --link` of the same data (bench/upgrade/raw.ts), and whether the
 * downtime grew with the size.
 */
import { toolchain } from '@pgfleet/postgres';
import { psql, writeLoad } from '../../e2e/harness.js';
import { timedRun } from '../backup/index.js';
import { startBenchPlatform } from '../provisioning/platform.js';
import { loadNow, log, median, renderTable, type Figure } from '../provisioning/report.js';
import { rawUpgradeMs } from './raw.js';

const SCALES = (process.env.BENCH_UPGRADE_SCALES ?? '20,200').split(',').map(Number);
const RUNS = Number(process.env.BENCH_UPGRADE_RUNS ?? 1);
/** The issue's target: at most this long without an acknowledged write, whatever the size. */
const TARGET_MS = 10_000;

/** When each step of the operation ended, in s after the `check` step (the leader stops right after it). */
function stepTimes(stdout: string): string {
  const { steps = [] } = JSON.parse(stdout) as { steps?: { step: string; at?: string }[] };
  const t0 = Date.parse(steps.find((s) => s.step === 'check')?.at ?? '');
  const at = (step: string) => (Date.parse(steps.find((s) => s.step === step)?.at ?? '') - t0) / 1000;
  return ['stop', 'upgrade-leader', 'start-leader'].map((s) => `${s} +${at(s).toFixed(1)} s`).join(', ');
}

export async function runUpgradeBench(): Promise<void> {
  const loadBefore = loadNow();
  const t = await startBenchPlatform();
  const figures: Figure[] = [];
  const totals: string[] = [];
  try {
    for (const scale of SCALES) {
      const figure: Figure = { metric: `write downtime, pgbench scale ${scale}`, pgfleet: [], raw: [] };
      for (let run = 0; run < RUNS; run++) {
        const name = `up${scale}r${run}`;
        await t.cli('cluster', 'create', name, '--plan', 'business-1024', '--version', '13', '--json');
        const { url } = JSON.parse((await t.cli('cluster', 'url', name, '--json')).stdout) as { url: string };
        log(`${name}: pgbench -i -s ${scale}; load ${loadNow()}`);
        await timedRun(toolchain(15).bin('pgbench'), ['-i', '-q', '-s', String(scale), url]);
        psql(url, 'CREATE TABLE acked (client int, seq int, PRIMARY KEY (client, seq))');
        // One writer: the longest time between two of its acknowledged writes is the downtime it saw.
        const load = writeLoad(url, 1);
        const upgrade = await t.cli('upgrade', name, '--to', '15', '--json');
        await load.stop();
        figure.pgfleet.push(load.longestGapMs());
        totals.push(
          `${name}: pgfleet upgrade took ${(upgrade.ms / 1000).toFixed(1)} s in all; ${stepTimes(upgrade.stdout)}`,
        );
        figure.raw.push(await rawUpgradeMs(t.home, scale));
        log(`${name}: downtime ${figure.pgfleet.at(-1)} ms, raw ${figure.raw.at(-1)!.toFixed(0)} ms`);
        await t.cli('cluster', 'delete', name, '--json');
      }
      figures.push(figure);
    }
  } finally {
    await t.cleanup();
  }
  console.log(`\nmajor upgrade 13 -> 15 (load ${loadBefore} before, ${loadNow()} after)`);
  console.log('pgfleet = the longest gap between acknowledged writes of a writer on the URL during `pgfleet upgrade`');
  console.log('raw = pg_upgrade --link of the stopped 13 node + pg_ctl start -w of the 15 one, same data');
  console.log(renderTable(figures));
  for (const line of totals) console.log(line);
  const downtimes = figures.map((f) => median(f.pgfleet));
  const grew = downtimes.length > 1 && downtimes.at(-1)! > 1.5 * downtimes[0]!;
  const within = downtimes.every((d) => d <= TARGET_MS);
  console.log(`downtime grew with the size: ${grew ? 'YES' : 'no'} (${downtimes.map((d) => `${d} ms`).join(' -> ')})`);
  console.log(`target <= ${TARGET_MS / 1000} s at every size: ${within ? 'met' : 'NOT met'}`);
}
