/**
 * Restore to a time: pgfleet's `WalArchive.restore` (the process runtime) beside a raw
 * `pgbackrest restore --type=time` + `pg_ctl start` + replay until promoted, from the same
 * repository, the same backup and the same target; plus the archiving lag under a pgbench load.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { findPlan } from '@pgfleet/contracts';
import { dataRoot, freePort, ownedTempDir, pgBackRestPaths, withClient } from '@pgfleet/postgres';
import { createProcessRuntime, type NodeRuntime } from '@pgfleet/runtime';
import { alignedTable, loadNow, log, median, renderTable, type Figure } from '../provisioning/report.js';
import { rawRestore } from './raw.js';

const SCALE = Number(process.env.BENCH_PITR_SCALE ?? 20);
const RUNS = Number(process.env.BENCH_PITR_RUNS ?? 3);
const LOAD_SECONDS = Number(process.env.BENCH_PITR_LOAD_SECONDS ?? 120);
const TARGET_RATIO = 1.2;
const STANZA = 'bench';
const plan = findPlan('starter-512')!;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A WAL file name as a segment number (16 MB segments). */
const segno = (wal: string) => Number.parseInt(wal.slice(8, 16), 16) * 256 + Number.parseInt(wal.slice(16, 24), 16);

/** pgbench for LOAD_SECONDS on the source, sampling its archiver each second; returns the target time. */
async function loadWithLag(runtime: NodeRuntime): Promise<{ target: string; behind: number[]; ageS: number[] }> {
  const ep = await runtime.endpoint('src');
  const args = ['-T', String(LOAD_SECONDS), '-c', '2', '-j', '1', '-n', 'postgres'];
  let done = false;
  const bench = runtime.exec('src', 'pgbench', args).finally(() => (done = true));
  const behind: number[] = [];
  const ageS: number[] = [];
  let target = '';
  const started = Date.now();
  const probe = `SELECT pg_walfile_name(pg_current_wal_lsn()) AS cur, last_archived_wal AS last,
    extract(epoch FROM now() - last_archived_time)::float AS age, clock_timestamp()::text AS now FROM pg_stat_archiver`;
  await withClient(ep, async (q) => {
    while (!done) {
      const row = (await q.query(probe)).rows[0] as Record<string, string | number | null>;
      if (row.last && !String(row.last).includes('.')) {
        const n = segno(String(row.cur)) - segno(String(row.last)) - 1;
        behind.push(Math.max(0, n));
        if (n > 0) ageS.push(Number(row.age));
      }
      if (Date.now() - started < (LOAD_SECONDS - 5) * 1000) target = String(row.now);
      await sleep(1000);
    }
  });
  const r = await bench;
  if (r.code !== 0) throw new Error(`pgbench failed: ${r.stderr}`);
  return { target, behind, ageS };
}

async function switchAndArchive(runtime: NodeRuntime): Promise<void> {
  const ep = await runtime.endpoint('src');
  const one = async (sql: string) => (await withClient(ep, (q) => q.query<{ v: string | null }>(sql))).rows[0]!.v;
  const wal = (await one('SELECT pg_walfile_name(pg_switch_wal()) AS v'))!;
  while (((await one('SELECT last_archived_wal AS v FROM pg_stat_archiver')) ?? '') < wal) await sleep(200);
}

export async function runPitrBench(): Promise<void> {
  const home = await ownedTempDir('pgfleet-bench-pitr-');
  const runtime = createProcessRuntime({ home });
  const paths = pgBackRestPaths(dataRoot(home));
  const made: string[] = [];
  const cleanup = async () => {
    for (const n of made) await runtime.remove(n).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  };
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  try {
    log(`pitr: scale ${SCALE}, ${LOAD_SECONDS} s of pgbench after the backup, ${RUNS} runs; load ${loadNow()}`);
    await runtime.create({ clusterId: 'src', nodeId: 'src', major: 15, port: await freePort() });
    made.push('src');
    await runtime.initialize('src', { plan, archive: { stanza: STANZA } });
    await runtime.start('src');
    await runtime.archive.createStanza(STANZA, 'src');
    const init = await runtime.exec('src', 'pgbench', ['-i', '-s', String(SCALE), '-q', 'postgres']);
    if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
    let t = performance.now();
    const backup = await runtime.archive.backup(STANZA, { leaderNodeId: 'src' });
    const mb = (backup.sizeBytes / 1e6).toFixed(0);
    log(`full backup ${backup.label}: ${mb} MB in ${(performance.now() - t).toFixed(0)} ms`);
    const { target, behind, ageS } = await loadWithLag(runtime);
    await switchAndArchive(runtime);
    const info = await runtime.archive.info(STANZA);
    log(`target ${target}; archive ${info.walMin} .. ${info.walMax}`);

    const pgfleet: number[] = [];
    const raw: number[] = [];
    const pgfleetRun = async (i: number) => {
      const nodeId = `fork-${i}`;
      await runtime.create({ clusterId: 'fork', nodeId, major: 15, port: await freePort() });
      made.push(nodeId);
      t = performance.now();
      await runtime.archive.restore(nodeId, { stanza: STANZA, targetTime: target, setup: { plan } });
      pgfleet.push(performance.now() - t);
      await runtime.remove(nodeId);
    };
    const rawRun = async () => raw.push(await rawRestore(home, STANZA, target));
    for (let i = 0; i < RUNS; i++) {
      // Nothing prefetched by the run before.
      rmSync(join(paths.spool, 'archive', STANZA, 'in'), { recursive: true, force: true });
      if (i % 2 === 0) await pgfleetRun(i).then(rawRun);
      else await rawRun().then(() => pgfleetRun(i));
      log(`run ${i + 1}: pgfleet ${pgfleet.at(-1)!.toFixed(0)} ms, raw ${raw.at(-1)!.toFixed(0)} ms`);
    }

    const figure: Figure = {
      metric: `restore to a time (scale ${SCALE}, ${LOAD_SECONDS} s of WAL)`,
      pgfleet,
      raw,
      target: { maxRatio: TARGET_RATIO },
    };
    console.log(`\npitr (load before ${loadNow()})`);
    console.log(renderTable([figure]));
    const range = (v: number[], unit: string) =>
      v.length === 0
        ? '-'
        : `${median(v).toFixed(1)}${unit} [${Math.min(...v).toFixed(1)} - ${Math.max(...v).toFixed(1)}]`;
    console.log(`\narchiving lag under pgbench -c 2 (${behind.length} samples, 1 s apart)`);
    const lag = [
      ['WAL segments waiting to be archived', range(behind, '')],
      ['age of the last archived segment while some wait', range(ageS, ' s')],
    ];
    console.log(alignedTable(['figure', 'median [min - max]'], lag));
  } finally {
    process.off('SIGINT', onSignal);
    await cleanup();
  }
}
