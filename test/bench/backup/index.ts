import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { toolchain } from '@pgfleet/postgres';
import { startBenchPlatform, Timeline, type BenchPlatform, type TimedCli } from '../provisioning/platform.js';
import { loadNow, log, renderTable, type Figure } from '../provisioning/report.js';

const SCALE = Number(process.env.BENCH_BACKUP_SCALE ?? 20);
const RUNS = Number(process.env.BENCH_BACKUP_RUNS ?? 5);
/** Starter plans take 20 on-demand backups a day per cluster: the warm-up and the runs must fit. */
const STARTER_DAILY = 20;
const TARGET_RATIO = 1.1;
const TARGET_OVERHEAD_MS = 250;

/** Run a tool to its end (without blocking the event loop); resolves with its wall time in ms. */
export function timedRun(bin: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(performance.now() - started);
      else reject(new Error(`${bin.split('/').pop()} ${args[0]} failed (${code}): ${stderr}`));
    });
  });
}

export interface Target {
  name: string;
  /** The leader node itself (TCP, app role, no TLS): where the raw pg_dump connects. */
  leaderUrl: string;
}

/** A starter cluster made through the platform, and the URL of its leader node. */
export async function starterCluster(t: BenchPlatform, name: string): Promise<Target> {
  await t.cli('cluster', 'create', name, '--plan', 'starter-512', '--json');
  const url = JSON.parse((await t.cli('cluster', 'url', name, '--json')).stdout) as { url: string };
  const shown = JSON.parse((await t.cli('cluster', 'show', name, '--json')).stdout) as {
    nodes: { role: string; port: number }[];
  };
  const leaderPort = shown.nodes.find((n) => n.role === 'leader')!.port;
  const leaderUrl = `${url.url.replace(/:(\d+)\/app(\?.*)?$/, `:${leaderPort}/app`)}?sslmode=disable`;
  return { name, leaderUrl };
}

interface Measured {
  figure: Figure;
  /** `durationMs` of BackupCompleted: the dump as the service timed it. */
  dumpMs: number[];
  timeline: Timeline;
  sizes: string;
}

/**
 * `RUNS` backups of one cluster after one warm-up, pgfleet and raw side by side in alternating
 * order: pgfleet = `pgfleet backup create NAME --json` from spawning the CLI until it returns with
 * the completed backup; raw = `pg_dump -Fc -f FILE` of the same database on the same node.
 */
async function measure(t: BenchPlatform, target: Target, scratch: string, metric: string): Promise<Measured> {
  const figure: Figure = { metric, pgfleet: [], raw: [] };
  const dumpMs: number[] = [];
  const timeline = new Timeline();
  let sizes = '';
  const pgDump = toolchain(15).bin('pg_dump');
  for (let i = 0; i <= RUNS; i++) {
    const file = join(scratch, `${target.name}-${i}.dump`);
    const raw = () => timedRun(pgDump, ['-Fc', '-f', file, target.leaderUrl]);
    const ours = () => t.cli('backup', 'create', target.name, '--json');
    let backup: TimedCli;
    let rawMs: number;
    if (i % 2 === 0) {
      backup = await ours();
      rawMs = await raw();
    } else {
      rawMs = await raw();
      backup = await ours();
    }
    const b = JSON.parse(backup.stdout) as { id: string; status: string; size: number; duration: number };
    if (b.status !== 'completed') throw new Error(`backup create returned a backup ${b.status}`);
    const rawSize = statSync(file).size;
    rmSync(file);
    const warm = i === 0 ? ' (warm-up)' : '';
    log(
      `${target.name} run ${i}${warm}: pgfleet ${backup.ms.toFixed(0)} ms (dump ${b.duration} ms, ${b.size} B), ` +
        `raw ${rawMs.toFixed(0)} ms (${rawSize} B)`,
    );
    if (i === 0) {
      sizes = `pgfleet ${b.size} B, raw ${rawSize} B`;
      continue;
    }
    figure.pgfleet.push(backup.ms);
    figure.raw.push(rawMs);
    dumpMs.push(b.duration);
    timeline.add(backup, await t.audit(target.name));
  }
  return { figure, dumpMs, timeline, sizes };
}

/**
 * A backup through the platform beside a raw pg_dump of the same database, in the same run: a
 * starter cluster filled by `pgbench -i -s SCALE` (the ratio), and an empty one (the fixed
 * overhead: pgfleet minus raw). The events of each backup say where its time went.
 */
export async function runBackupBench(): Promise<void> {
  if (RUNS + 1 > STARTER_DAILY) throw new Error(`BENCH_BACKUP_RUNS must be at most ${STARTER_DAILY - 1}`);
  const loadBefore = loadNow();
  const t = await startBenchPlatform();
  const scratch = mkdtempSync(join(tmpdir(), 'pgfleet-bench-backup-'));
  let full: Measured;
  let empty: Measured;
  try {
    const data = await starterCluster(t, 'bench-data');
    const none = await starterCluster(t, 'bench-empty');
    log(`pgbench -i -s ${SCALE} into ${data.name}`);
    await timedRun(toolchain(15).bin('pgbench'), ['-i', '-q', '-s', String(SCALE), data.leaderUrl]);
    full = await measure(t, data, scratch, `backup create, pgbench -s ${SCALE}`);
    full.figure.target = { maxRatio: TARGET_RATIO };
    empty = await measure(t, none, scratch, 'backup create, empty database (fixed overhead)');
    empty.figure.target = { maxOverheadMs: TARGET_OVERHEAD_MS };
  } finally {
    log('stopping the platform and removing its home');
    await t.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  }
  const dump: Figure = {
    metric: `  the dump alone (BackupCompleted.durationMs)`,
    pgfleet: full.dumpMs,
    raw: full.figure.raw,
  };
  console.log(
    [
      '',
      'pgfleet backup benchmark',
      `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}; ` +
        `load ${loadBefore} before, ${loadNow()} after (1/5/15 min)`,
      `${RUNS} runs after one warm-up, pgfleet and raw side by side in alternating order; ` +
        'cells: median [min - max]; ratio and difference taken run by run',
      'pgfleet = wall time of `pgfleet backup create NAME --json` (CLI spawned -> returned with the completed backup)',
      'raw = pg_dump -Fc -f FILE of the same database on the same node (TCP, app role, sslmode=disable)',
      `dump sizes (pgbench -s ${SCALE}): ${full.sizes}`,
      '',
      renderTable([full.figure, dump, empty.figure]),
      '',
      `where the time of a backup of pgbench -s ${SCALE} goes:`,
      full.timeline.render(),
      '',
      'where the time of a backup of an empty database goes:',
      empty.timeline.render(),
      '',
    ].join('\n'),
  );
}
