import type { EventEnvelope } from '@pgfleet/contracts';
import { dataRoot, readySpares } from '@pgfleet/postgres';
import {
  platformEnv,
  removeHome,
  runCli,
  startUp,
  waitFor,
  type CliResult,
  type UpProcess,
} from '../../e2e/harness.js';
import { alignedTable, log, median, spread } from './report.js';

/** A CLI call as a user sees it: wall time from spawning `pgfleet` to its exit, and the wall clock at both ends. */
export interface TimedCli extends CliResult {
  ms: number;
  startedAt: number;
  endedAt: number;
}

export interface BenchPlatform {
  home: string;
  env: NodeJS.ProcessEnv;
  /** Run the real `pgfleet` CLI; a non-zero exit is an error naming the command. */
  cli(...args: string[]): Promise<TimedCli>;
  /** Every event about a cluster (`pgfleet audit NAME --json`), in global order. */
  audit(name: string): Promise<EventEnvelope[]>;
  /**
   * Resolves once the platform holds a ready spare data directory of PostgreSQL `major`
   * (`{data root}/spares/{major}/ready-*`): the background initdb that refills it is over.
   */
  spareReady(major: number): Promise<void>;
  /** Stop `pgfleet up` (Ctrl-C to its process group), the clusters' servers, and remove the home (idempotent). */
  cleanup(): Promise<void>;
}

/**
 * `pgfleet up` as a user runs it (its own process, in a temporary home on free ports), stopped with
 * everything it made on return, on error and on Ctrl-C of the benchmark.
 */
export async function startBenchPlatform(): Promise<BenchPlatform> {
  const { home, env } = await platformEnv();
  let up: UpProcess | undefined;
  let cleaned: Promise<void> | undefined;
  const cleanup = () => {
    cleaned ??= (async () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (up && up.child.exitCode === null && up.child.signalCode === null) {
        up.ctrlC();
        const late = setTimeout(() => process.kill(-up!.child.pid!, 'SIGKILL'), 35_000);
        await up.exited;
        clearTimeout(late);
      }
      removeHome(home);
    })();
    return cleaned;
  };
  function onSignal(signal: NodeJS.Signals) {
    log(`${signal}: stopping the platform and its clusters`);
    void cleanup().finally(() => process.exit(130));
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    log(`starting pgfleet up in ${home}`);
    up = await startUp(env);
  } catch (error) {
    await cleanup();
    throw error;
  }
  const cli = async (...args: string[]): Promise<TimedCli> => {
    const startedAt = Date.now();
    const t0 = performance.now();
    const r = await runCli(env, args);
    const ms = performance.now() - t0;
    if (r.code !== 0) throw new Error(`pgfleet ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
    return { ...r, ms, startedAt, endedAt: Date.now() };
  };
  return {
    home,
    env,
    cli,
    audit: async (name) => JSON.parse((await cli('audit', name, '--json')).stdout) as EventEnvelope[],
    spareReady: async (major) => {
      const root = dataRoot(home);
      await waitFor(`a ready spare of PostgreSQL ${major} in ${root}`, () => readySpares(root, major).length > 0);
    },
    cleanup,
  };
}

/**
 * Where the time of CLI calls goes, from the events they caused: for each run, the time of each
 * event (`occurredAt`) and of the CLI's return, in ms after the CLI was spawned.
 */
export class Timeline {
  private readonly runs: Map<string, number>[] = [];

  /** One run: the events of the call (those that occurred while it ran), then the CLI's exit. */
  add(call: TimedCli, events: readonly EventEnvelope[]): void {
    const run = new Map<string, number>();
    const seen = new Map<string, number>();
    for (const e of events) {
      const at = Date.parse(e.occurredAt);
      if (at < call.startedAt || at > call.endedAt) continue;
      const node = (e.data as { nodeId?: unknown }).nodeId;
      const base = typeof node === 'string' ? `${e.type} ${node}` : e.type;
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      run.set(n > 1 ? `${base} #${n}` : base, at - call.startedAt);
    }
    run.set('CLI returned', call.endedAt - call.startedAt);
    this.runs.push(run);
  }

  /** `milestone | ms after the CLI was spawned`: median [min - max] over the runs, in order of the medians. */
  render(): string {
    const keys = [...new Set(this.runs.flatMap((r) => [...r.keys()]))];
    const rows = keys
      .map((k) => ({ k, values: this.runs.flatMap((r) => (r.has(k) ? [r.get(k)!] : [])) }))
      .sort((a, b) => median(a.values) - median(b.values))
      .map(({ k, values }) => [
        k,
        spread(values, 'ms'),
        values.length < this.runs.length ? `${values.length} runs` : '',
      ]);
    return alignedTable(['event (occurredAt)', 'ms after the CLI was spawned', ''], rows);
  }
}
