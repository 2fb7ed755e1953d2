import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform } from '../../e2e/harness.js';

const BIN = '/usr/lib/postgresql/15/bin';
const SCALE = Number(process.env.BENCH_BACKUP_SCALE ?? 20);
const RUNS = Number(process.env.BENCH_BACKUP_RUNS ?? 3);
const TARGET = 1.15;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function run(bin: string, args: string[]): string {
  const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${bin} ${args[0]} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/**
 * A backup through the platform beside a raw pg_dump of the same database in the same run: a
 * starter cluster filled by `pgbench -i -s 20`; pgfleet = wall time of `pgfleet backup create`
 * (CLI start to BackupCompleted: request over NATS, pg_dump -Fc streamed through sha256 into the
 * store, events recorded); raw = `pg_dump -Fc -f FILE` of the same database on the same node.
 */
export async function runBackupBench(): Promise<void> {
  const t = await startPlatform();
  const scratch = mkdtempSync(join(tmpdir(), 'pgfleet-bench-backup-'));
  const rows: string[][] = [];
  const sizes: string[] = [];
  try {
    const created = await t.cli('cluster', 'create', 'bench-backup', '--plan', 'starter-512');
    if (created.code !== 0) throw new Error(`create failed: ${created.stderr}`);
    const url = (await t.cli('cluster', 'url', 'bench-backup')).stdout.trim();
    console.error(`[bench] pgbench -i -s ${SCALE}`);
    run(join(BIN, 'pgbench'), ['-i', '-q', '-s', String(SCALE), url]);
    const shown = JSON.parse((await t.cli('cluster', 'show', 'bench-backup', '--json')).stdout) as {
      nodes: { role: string; port: number }[];
    };
    const leaderUrl = url.replace(/:(\d+)\/app$/, `:${shown.nodes.find((n) => n.role === 'leader')!.port}/app`);

    const ours: number[] = [];
    const dumpMs: number[] = [];
    const raw: number[] = [];
    for (let i = 0; i <= RUNS; i++) {
      const file = join(scratch, `raw-${i}.dump`);
      let started = performance.now();
      run(join(BIN, 'pg_dump'), ['-Fc', '-f', file, leaderUrl]);
      const rawMs = performance.now() - started;
      started = performance.now();
      const r = await t.cli('backup', 'create', 'bench-backup', '--json');
      const oursMs = performance.now() - started;
      if (r.code !== 0) throw new Error(`backup create failed: ${r.stderr}${r.stdout}`);
      const b = JSON.parse(r.stdout) as { size: number; duration: number };
      console.error(
        `[bench] run ${i}${i === 0 ? ' (warm-up)' : ''}: pgfleet ${oursMs.toFixed(0)} ms ` +
          `(dump ${b.duration} ms, ${b.size} B), raw ${rawMs.toFixed(0)} ms (${statSync(file).size} B)`,
      );
      if (i === 0) {
        sizes.push(`pgfleet ${b.size} B`, `raw ${statSync(file).size} B`);
        continue;
      }
      ours.push(oursMs);
      dumpMs.push(b.duration);
      raw.push(rawMs);
      rmSync(file);
    }
    const row = (metric: string, a: number, b: number) => {
      const ratio = a / b;
      return [
        metric,
        `${a.toFixed(0)} ms`,
        `${b.toFixed(0)} ms`,
        `${ratio.toFixed(2)}x`,
        `<= ${TARGET}x`,
        ratio <= TARGET ? 'yes' : 'NO',
      ];
    };
    rows.push(row(`backup of pgbench -s ${SCALE}, \`pgfleet backup create\` wall time`, median(ours), median(raw)));
    rows.push(row(`backup of pgbench -s ${SCALE}, dump time recorded by the service`, median(dumpMs), median(raw)));
  } finally {
    await t.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  }
  const header = ['metric', 'pgfleet', 'raw baseline', 'ratio', `target (<= ${TARGET}x)`, 'met?'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  console.log(
    `\nbackup: median of ${RUNS} runs (after one warm-up each); dump sizes ${sizes.join(', ')}; ` +
      `raw = pg_dump -Fc -f FILE of the same database on the same node`,
  );
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const r of rows) console.log(line(r));
}
