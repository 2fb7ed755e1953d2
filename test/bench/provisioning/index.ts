import { startPlatform } from '../../e2e/harness.js';
import { rawCluster } from './raw.js';

const RUNS = Number(process.env.BENCH_PROVISIONING_RUNS ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Time to Ready through the real CLI (`pgfleet cluster create`, which waits until ClusterReady)
 * beside the same servers made by hand with initdb / pg_basebackup / pg_ctl, in the same run.
 */
export async function runProvisioningBench(): Promise<void> {
  const t = await startPlatform();
  const rows: string[][] = [];
  try {
    for (const [plan, nodes] of [
      ['starter-512', 1],
      ['business-1024', 3],
    ] as const) {
      const ours: number[] = [];
      const raw: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        raw.push(await rawCluster(nodes));
        const name = `bench-${plan.split('-')[0]}-${i}`;
        const started = performance.now();
        const r = await t.cli('cluster', 'create', name, '--plan', plan);
        if (r.code !== 0) throw new Error(`create ${name} failed: ${r.stderr}`);
        ours.push(performance.now() - started);
        await t.cli('cluster', 'delete', name);
      }
      const ratio = median(ours) / median(raw);
      rows.push([
        `time to Ready, ${plan} (${nodes} node${nodes > 1 ? 's' : ''})`,
        `${median(ours).toFixed(0)} ms`,
        `${median(raw).toFixed(0)} ms`,
        `${ratio.toFixed(2)}x`,
        '<= 1.5x',
        ratio <= 1.5 ? 'yes' : 'NO',
      ]);
    }
  } finally {
    await t.cleanup();
  }
  const header = ['metric', 'pgfleet', 'raw baseline', 'ratio', 'target', 'met?'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  console.log(
    `\nprovisioning: median of ${RUNS} runs; ` +
      `pgfleet = wall time of \`pgfleet cluster create\` (CLI process start to ClusterReady); ` +
      `raw = initdb + pg_ctl start (+ 2 x pg_basebackup + start)`,
  );
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const r of rows) console.log(line(r));
}
