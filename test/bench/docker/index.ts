import { cpus } from 'node:os';
import { findPlan } from '@pgfleet/contracts';
import { Timeline, type BenchPlatform, type TimedCli } from '../provisioning/platform.js';
import { alignedTable, loadNow, log, median, spread } from '../provisioning/report.js';
import { startDockerBench } from './platforms.js';
import { rawDockerCluster } from './raw.js';

const RUNS = Number(process.env.BENCH_DOCKER_RUNS ?? 3);
const PLANS = (process.env.BENCH_DOCKER_PLANS ?? 'starter-512,business-1024').split(',').map((p) => p.trim());
/** docker runtime / raw docker run, on the median of the run-by-run ratios. */
const TARGET = 1.3;

type Side = 'docker' | 'raw' | 'process';

/** One plan's wall times, one value per measured run; the three of a run were measured one right after another. */
interface PlanTimes {
  metric: string;
  times: Record<Side, number[]>;
  /** Where the time of the docker runtime's creates goes. */
  timeline: Timeline;
}

/** `cluster create NAME --plan P --json` (it waits for ClusterReady): the CLI's wall time; refused unless ready. */
async function create(t: BenchPlatform, name: string, plan: string): Promise<TimedCli> {
  const created = await t.cli('cluster', 'create', name, '--plan', plan, '--json');
  const status = (JSON.parse(created.stdout) as { status: string }).status;
  if (status !== 'ready') throw new Error(`cluster create ${name} returned a cluster ${status}`);
  return created;
}

/** Run by run: a[i] / b[i], and a[i] - b[i]. */
const ratios = (a: number[], b: number[]) => a.map((x, i) => x / b[i]!);
const differences = (a: number[], b: number[]) => a.map((x, i) => x - b[i]!);

/** The table against the raw baseline, then the docker runtime against the process runtime. */
function render(results: readonly PlanTimes[]): string {
  const vsRaw = results.map(({ metric, times: { docker, raw } }) => [
    metric,
    spread(docker, 'ms'),
    spread(raw, 'ms'),
    spread(ratios(docker, raw), 'x'),
    spread(differences(docker, raw), 'ms'),
    `ratio <= ${TARGET}x`,
    median(ratios(docker, raw)) <= TARGET ? 'yes' : 'NO',
  ]);
  const vsProcess = results.map(({ metric, times: { docker, process } }) => [
    metric,
    spread(docker, 'ms'),
    spread(process, 'ms'),
    spread(ratios(docker, process), 'x'),
    spread(differences(docker, process), 'ms'),
  ]);
  return [
    alignedTable(['metric', 'pgfleet docker', 'raw docker run', 'ratio', 'docker - raw', 'target', 'met?'], vsRaw),
    '',
    'docker runtime beside the process runtime (same run):',
    alignedTable(['metric', 'pgfleet docker', 'pgfleet process', 'docker / process', 'docker - process'], vsProcess),
  ].join('\n');
}

/**
 * Time to Ready on the docker runtime (issue 15): `pgfleet cluster create NAME --plan P --json`
 * through a `pgfleet up` with PGFLEET_RUNTIME=docker, beside the same through a `pgfleet up` on
 * the process runtime and beside the raw `docker run` of the same image on the same Podman service
 * (rawDockerCluster), in the same run. One warm-up of each, then `RUNS` runs, the three sides in an
 * order that rotates from run to run; before each measurement the process platform's spare data
 * directory must be ready again, so its background initdb overlaps nothing.
 */
export async function runDockerBench(): Promise<void> {
  for (const plan of PLANS) if (!findPlan(plan)) throw new Error(`BENCH_DOCKER_PLANS: no plan ${plan}`);
  const loadBefore = loadNow();
  const b = await startDockerBench();
  const results: PlanTimes[] = [];
  try {
    for (const plan of PLANS) {
      const nodes = findPlan(plan)!.dataNodes;
      const result: PlanTimes = {
        metric: `cluster create ${plan} (${nodes} node${nodes > 1 ? 's' : ''})`,
        times: { docker: [], raw: [], process: [] },
        timeline: new Timeline(),
      };
      for (let i = 0; i <= RUNS; i++) {
        // Short: the docker runtime names a node's container (and its hostname, at most 64
        // characters) after the cluster id twice; a name of 16 characters or more does not start.
        const name = `b-${plan.split('-')[0]}-${i}`;
        const measure: Record<Side, () => Promise<number>> = {
          docker: async () => {
            const created = await create(b.dockerPlatform, name, plan);
            if (i > 0) result.timeline.add(created, await b.dockerPlatform.audit(name));
            return created.ms;
          },
          process: async () => (await create(b.processPlatform, name, plan)).ms,
          raw: () => rawDockerCluster(b.engine.docker, b.engine.image, `pgfleet-bench-raw-${name}`, nodes),
        };
        const sides: Side[] = ['docker', 'raw', 'process'];
        const order = [...sides.slice(i % 3), ...sides.slice(0, i % 3)];
        const ms = {} as Record<Side, number>;
        for (const side of order) {
          await b.settle();
          ms[side] = await measure[side]();
        }
        const warm = i === 0 ? ' (warm-up)' : '';
        log(
          `${plan} run ${i}${warm}: docker ${ms.docker.toFixed(0)} ms, raw docker run ${ms.raw.toFixed(0)} ms, ` +
            `process ${ms.process.toFixed(0)} ms`,
        );
        if (i > 0) for (const side of sides) result.times[side].push(ms[side]);
        await b.dockerPlatform.cli('cluster', 'delete', name, '--json');
        await b.processPlatform.cli('cluster', 'delete', name, '--json');
      }
      results.push(result);
    }
  } finally {
    log('stopping both platforms, removing their homes, the raw containers and the Podman service');
    await b.cleanup();
  }
  console.log(
    [
      '',
      'pgfleet docker runtime benchmark (time to Ready)',
      `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}; ` +
        `load ${loadBefore} before, ${loadNow()} after (1/5/15 min)`,
      `engine: a Podman API service (${b.engine.name}), image ${b.engine.image}, shared by the docker runtime and raw`,
      `${RUNS} runs after one warm-up, the three sides one after another in rotating order; ` +
        'cells: median [min - max]; ratios and differences taken run by run',
      'pgfleet docker / process = wall time of `pgfleet cluster create NAME --plan P --json` ' +
        '(CLI spawned -> ready, URL served)',
      'raw docker run = volume + container of the image started, initdb + pg_ctl start -w by docker exec, SELECT 1 ' +
        'at its address, no port published (business: + a network, 2 x container + pg_basebackup -R + pg_ctl start, ' +
        'in turn, until pg_stat_replication shows 2 streaming)',
      '',
      render(results),
      ...results.flatMap(({ metric, timeline }) => [
        '',
        `where the time of a docker ${metric} goes:`,
        timeline.render(),
      ]),
      '',
    ].join('\n'),
  );
}
