import { cpus } from 'node:os';
import { startBenchPlatform, Timeline, type TimedCli } from './platform.js';
import { rawCluster } from './raw.js';
import { loadNow, log, renderTable, type Figure } from './report.js';

const RUNS = Number(process.env.BENCH_PROVISIONING_RUNS ?? 5);
const TARGET = 1.3;
const PLANS = [
  { plan: 'starter-512', nodes: 1 },
  { plan: 'business-1024', nodes: 3 },
] as const;

/** The version the creates get (CreateCluster's default), whose spare data directory the platform keeps. */
const MAJOR = 15;

/**
 * Time to a ready cluster as a user gets it — `pgfleet cluster create NAME --plan P --json`, from
 * spawning the CLI until it returns with the cluster (it waits for ClusterReady) — through a running
 * `pgfleet up`, beside the same servers made by hand with initdb / pg_ctl start (+ 2 x
 * pg_basebackup and start for business) in the same run; one warm-up of each first, then `RUNS`
 * runs in alternating order. The events of each create say where its time went. Before every run
 * (pgfleet or raw) the platform's spare data directory must be ready again, so the background initdb
 * that refills it after a create never overlaps a measurement.
 */
export async function runProvisioningBench(): Promise<void> {
  const loadBefore = loadNow();
  const t = await startBenchPlatform();
  log(`before each run: waiting until the platform's spare for PostgreSQL ${MAJOR} is ready (spares/${MAJOR}/ready-*)`);
  const measured = async <T>(run: () => Promise<T>): Promise<T> => {
    await t.spareReady(MAJOR);
    return run();
  };
  const figures: Figure[] = [];
  const timelines: { plan: string; timeline: Timeline }[] = [];
  try {
    for (const { plan, nodes } of PLANS) {
      const figure: Figure = {
        metric: `cluster create ${plan} (${nodes} node${nodes > 1 ? 's' : ''})`,
        pgfleet: [],
        raw: [],
        target: { maxRatio: TARGET },
      };
      const timeline = new Timeline();
      for (let i = 0; i <= RUNS; i++) {
        const name = `bench-${plan.split('-')[0]}-${i}`;
        const ours = async () => {
          const created = await t.cli('cluster', 'create', name, '--plan', plan, '--json');
          const status = (JSON.parse(created.stdout) as { status: string }).status;
          if (status !== 'ready') throw new Error(`cluster create ${name} returned a cluster ${status}`);
          return created;
        };
        let created: TimedCli;
        let rawMs: number;
        if (i % 2 === 0) {
          created = await measured(ours);
          rawMs = await measured(() => rawCluster(nodes));
        } else {
          rawMs = await measured(() => rawCluster(nodes));
          created = await measured(ours);
        }
        const warm = i === 0 ? ' (warm-up)' : '';
        log(`${plan} run ${i}${warm}: pgfleet ${created.ms.toFixed(0)} ms, raw ${rawMs.toFixed(0)} ms`);
        if (i > 0) {
          figure.pgfleet.push(created.ms);
          figure.raw.push(rawMs);
          timeline.add(created, await t.audit(name));
        }
        await t.cli('cluster', 'delete', name, '--json');
      }
      figures.push(figure);
      timelines.push({ plan, timeline });
    }
  } finally {
    log('stopping the platform and removing its home');
    await t.cleanup();
  }
  console.log(
    [
      '',
      'pgfleet provisioning benchmark',
      `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}; ` +
        `load ${loadBefore} before, ${loadNow()} after (1/5/15 min)`,
      `${RUNS} runs after one warm-up, pgfleet and raw side by side in alternating order; ` +
        'cells: median [min - max]; ratio and difference taken run by run',
      'pgfleet = wall time of `pgfleet cluster create NAME --plan P --json` (CLI spawned -> returned, ready)',
      'raw = initdb + pg_ctl start -w (business: + 2 x pg_basebackup -R -X stream -C + pg_ctl start -w, in turn)',
      '',
      renderTable(figures),
      ...timelines.flatMap(({ plan, timeline }) => ['', `where the time of a ${plan} create goes:`, timeline.render()]),
      '',
    ].join('\n'),
  );
}
