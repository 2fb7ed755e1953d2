import { loadavg } from 'node:os';
import { measureFailovers, type KillLoopOptions, type TargetResult } from './killLoop.js';
import { startPatroni, type PatroniTimings } from './patroni.js';
import { HAPROXY_CHECKS } from './haproxy.js';
import { printReport } from './report.js';
import type { FailoverTarget, TargetFactory } from './target.js';

/** Patroni tuned for fast failover: ttl 20 s, a 2 s HA loop, 5 s of retries (loop_wait + 2 x retry_timeout <= ttl). */
export const PATRONI_TUNED: PatroniTimings = { ttl: 20, loop_wait: 2, retry_timeout: 5 };

/** Every target the benchmark knows, run in this order; the report compares pgfleet with each baseline. */
const TARGETS: Record<string, TargetFactory> = {
  // Loaded only when run: it needs the workspace built (the platform, the CLI).
  pgfleet: async (onCleanup) => (await import('./pgfleet.js')).startPgfleet(onCleanup),
  patroni: (onCleanup) => startPatroni(undefined, onCleanup),
  'patroni-tuned': (onCleanup) => startPatroni(PATRONI_TUNED, onCleanup),
};

const env = process.env;
const number = (name: string, fallback: number) => Number(env[name] ?? fallback);

/**
 * Failover under a write load, every selected target in turn on the same machine (each started
 * fresh and removed before the next): `BENCH_FAILOVER_KILLS` kills of the leader, alternating
 * kill -9 of its postmaster and SIGSTOP of the whole server, recovery time and lost commits.
 */
export async function runFailoverBench(): Promise<void> {
  const names = (env.BENCH_FAILOVER_TARGETS ?? Object.keys(TARGETS).join(','))
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(n in TARGETS));
  if (unknown.length > 0) {
    throw new Error(`unknown failover target ${unknown.join(', ')}; known: ${Object.keys(TARGETS).join(', ')}`);
  }
  const options: KillLoopOptions = {
    kills: number('BENCH_FAILOVER_KILLS', 20),
    load: {
      clients: number('BENCH_FAILOVER_CLIENTS', 8),
      pauseMs: number('BENCH_FAILOVER_PAUSE_MS', 10),
      connectTimeoutMs: 1000,
      queryTimeoutMs: 2000,
    },
    settleMs: number('BENCH_FAILOVER_SETTLE_S', 2) * 1000,
    recoveryTimeoutMs: number('BENCH_FAILOVER_RECOVERY_TIMEOUT_S', 180) * 1000,
    healthyTimeoutMs: number('BENCH_FAILOVER_HEALTHY_TIMEOUT_S', 300) * 1000,
  };

  // Patroni needs minutes per kill (a re-clone after each SIGSTOP): its targets may take fewer.
  const baselineKills = number('BENCH_FAILOVER_BASELINE_KILLS', options.kills);

  // The cleanup of the target being started or measured, for a Ctrl-C.
  let cleanup: (() => Promise<void>) | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping the failover benchmark's servers`);
    void (cleanup?.() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const loadBefore = loadavg();
  const results: TargetResult[] = [];
  try {
    for (const name of names) {
      const target: FailoverTarget = await TARGETS[name]!((close) => {
        cleanup = close;
      });
      cleanup = () => target.close();
      try {
        results.push(
          await measureFailovers(target, { ...options, kills: name === 'pgfleet' ? options.kills : baselineKills }),
        );
      } finally {
        await target.close();
        cleanup = undefined;
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  printReport(
    results,
    `failover: ${options.kills} kills of pgfleet, ${baselineKills} of each other target, alternating kill -9 ` +
      `of the leader's postmaster and SIGSTOP of ` +
      `the whole leader server, postmaster and children (SIGCONT once a new leader acknowledged a write), under ` +
      `${options.load.clients} clients ` +
      `writing through the target's endpoint (pause ${options.load.pauseMs} ms, connect timeout ` +
      `${options.load.connectTimeoutMs} ms, query timeout ${options.load.queryTimeoutMs} ms); recovery = kill -> ` +
      `first write acknowledged by another server incarnation; HAProxy checks ${HAPROXY_CHECKS}; ` +
      `load average before ${load(loadBefore)}, after ${load(loadavg())}`,
  );
}
