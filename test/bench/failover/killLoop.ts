import { startWriteLoad, type Incarnation, type LoadOptions, type Verification } from './load.js';
import { freezeTree, thaw } from './processes.js';
import type { FailoverTarget } from './target.js';

/** Kills alternate: the leader's postmaster gets SIGKILL, then the leader's whole server is frozen (SIGSTOP). */
export type KillMode = 'kill -9' | 'SIGSTOP';

interface KillResult {
  mode: KillMode;
  /**
   * From the signal to the first write acknowledged by another server incarnation than the killed
   * one; infinite when none did within the recovery timeout (a frozen server is then woken up and
   * the run goes on once the cluster is healthy again).
   */
  recoveryMs: number;
  /** The incarnation that acknowledged before the kill and the one that acknowledged first after it. */
  from: Incarnation;
  to?: Incarnation;
  /** Whether another node took over (false: the same node came back, e.g. its postmaster restarted in place). */
  leaderMoved: boolean;
  /** performance.now() of that first acknowledgment. */
  recoveredAt?: number;
  /**
   * The longest stretch without any acknowledged write after the recovery, until the next kill
   * (or the end): 0 when writes went on; long when, say, the new leader was deposed again.
   */
  laterOutageMs?: number;
}

export interface TargetResult {
  target: string;
  kills: KillResult[];
  /** Undefined when the run stopped before the final check could be made. */
  verification?: Verification;
  /** Failed writes and connection attempts of the load (each followed by a reconnect). */
  loadErrors: number;
  /** Why the run stopped early, if it did. */
  error?: string;
  /** What the target had to do by hand to get healthy again (FailoverTarget.interventions). */
  interventions: string[];
}

export interface KillLoopOptions {
  kills: number;
  load: LoadOptions;
  /** Writes flow steadily this long before each kill, so some are in flight when it lands. */
  settleMs: number;
  /** A kill after which no new leader acknowledges a write within this long ends the run. */
  recoveryTimeoutMs: number;
  /** Passed to `waitHealthy` before every kill and before the final check. */
  healthyTimeoutMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The measurement, the same for every target: the write load runs through `target.url` for the
 * whole run; before each kill the cluster is healthy and writes flow steadily. Kill i (from 0)
 * sends SIGKILL to the leader's postmaster when i is even; when i is odd it freezes the whole
 * server, SIGSTOP to the postmaster and every backend (see `freezeTree`), and wakes it with SIGCONT
 * once a new leader acknowledged a write, so the old leader must be fenced and rejoin. At the end
 * every acknowledged row must be on the final leader.
 */
export async function measureFailovers(target: FailoverTarget, options: KillLoopOptions): Promise<TargetResult> {
  const result: TargetResult = { target: target.name, kills: [], loadErrors: 0, interventions: [] };
  await target.waitHealthy(options.healthyTimeoutMs);
  const load = await startWriteLoad(target.url, options.load);
  let frozen: number[] = [];
  try {
    for (let i = 0; i < options.kills; i++) {
      await target.waitHealthy(options.healthyTimeoutMs);
      await load.waitSteady(options.healthyTimeoutMs);
      await sleep(options.settleMs);
      const from = await load.waitSteady(options.healthyTimeoutMs);
      settleLastKill(result, load.longestGap);
      const pid = await target.leaderPid();
      const mode: KillMode = i % 2 === 0 ? 'kill -9' : 'SIGSTOP';

      const killedAt = performance.now();
      const firstAck = load.firstAckAfter(killedAt, from, options.recoveryTimeoutMs);
      firstAck.catch(() => undefined); // awaited below; this only keeps a failed signal from leaving it unhandled
      if (mode === 'kill -9') process.kill(pid, 'SIGKILL');
      else frozen = freezeTree(pid);
      const ack = await firstAck
        .catch(() => undefined)
        .finally(() => {
          thaw(frozen);
          frozen = [];
        });
      const kill: KillResult = {
        mode,
        recoveryMs: ack ? ack.at - killedAt : Number.POSITIVE_INFINITY,
        from,
        to: ack?.incarnation,
        leaderMoved: ack !== undefined && port(ack.incarnation) !== port(from),
        recoveredAt: ack?.at,
      };
      result.kills.push(kill);
      const what = `kill ${i + 1}/${options.kills} (${mode} of postmaster ${pid}${
        mode === 'SIGSTOP' ? ' and all its children' : ''
      })`;
      if (!ack) {
        // Counted as infinite; the frozen server is woken up: the run goes on if the cluster heals.
        console.error(
          `[bench] ${target.name}: ${what}: no write acknowledged by a new leader within ` +
            `${options.recoveryTimeoutMs / 1000} s`,
        );
        continue;
      }
      console.error(
        `[bench] ${target.name}: ${what}: writes acknowledged again after ${(kill.recoveryMs / 1000).toFixed(2)} s ` +
          `by ${kill.leaderMoved ? 'a new leader' : 'the same node restarted'} (${from} -> ${ack.incarnation})`,
      );
    }
    await target.waitHealthy(options.healthyTimeoutMs);
    await load.waitSteady(options.healthyTimeoutMs);
  } catch (error) {
    result.error = (error as Error).message;
    console.error(`[bench] ${target.name}: stopped early: ${result.error}`);
  } finally {
    thaw(frozen);
    settleLastKill(result, load.longestGap);
    await load.stop();
    result.loadErrors = load.errors();
    result.interventions = target.interventions();
  }
  // Also after an early stop: whatever leader the endpoint reaches now must hold every acknowledged row.
  try {
    result.verification = await load.verify();
  } catch (error) {
    console.error(`[bench] ${target.name}: cannot check the acknowledged rows: ${(error as Error).message}`);
  }
  return result;
}

const port = (incarnation: Incarnation) => incarnation.split('@')[0];

/** Fills the last kill's `laterOutageMs` once: from its recovery to now (the next kill, or the end). */
function settleLastKill(result: TargetResult, longestGap: (from: number, to: number) => number): void {
  const last = result.kills.at(-1);
  if (last?.recoveredAt !== undefined && last.laterOutageMs === undefined) {
    last.laterOutageMs = longestGap(last.recoveredAt, performance.now());
  }
}
