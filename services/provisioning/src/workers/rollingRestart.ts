import { runtimeNodeId, slotName } from '@pgfleet/contracts';
import { OperationFailure, type OperationRun } from '@pgfleet/kit';
import { nodeStatus } from '@pgfleet/postgres';
import type { ReconcileDeps } from './reconcile.js';
import { StoreUnavailable } from './record.js';
import { switchoverExecutor } from './switchover.js';

/**
 * A rolling restart, as steps of the operation that runs it (`cluster restart`, a plan change's
 * resize, a parameter change PostgreSQL applies only at a restart): one node at a time, so on
 * Business the application's writes are interrupted only by a switchover.
 *
 * - Business: each follower restarts and streams again before the next (`restart-{node}`); then a
 *   switchover to the first follower (its steps recorded as `switchover-{step}`); then the old
 *   leader restarts, a follower of the new one.
 * - `leaderFirst` (fewer connections: PostgreSQL wants them lowered on the primary before its
 *   standbys, which refuse to run with fewer): the leader restarts in place first, then the followers.
 * - One node (Starter, Sandbox): it restarts in place.
 *
 * Every step is idempotent: a resumed operation skips the completed ones and redoes the one it was
 * in (a node restarted twice).
 */

type Detail = Record<string, unknown>;

interface RestartSteps {
  deps: ReconcileDeps;
  run: OperationRun;
  /** Run a step of the operation: a failure of a node or of PostgreSQL fails it at that step. */
  step(name: string, fn: () => Promise<Detail>): Promise<Detail>;
  /** Before a node restarts: e.g. its configuration written with a new plan's sizing. */
  beforeRestart?(nodeId: string): Promise<void>;
  /** The step about to run (for an outcome the cluster's decider refuses, named at its step). */
  entering?(step: string): void;
}

interface RestartOrder {
  leader: string;
  followers: readonly string[];
  leaderFirst?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const reason = (error: unknown) =>
  error instanceof OperationFailure ? error.reason : error instanceof Error ? error.message : String(error);

/** The step runner of an operation whose node or PostgreSQL failures fail it at the step; a lost store is thrown. */
export function failingAtStep(run: OperationRun) {
  return (name: string, fn: () => Promise<Detail>): Promise<Detail> =>
    run.step(name, async () => {
      try {
        return await fn();
      } catch (error) {
        if (error instanceof OperationFailure || error instanceof StoreUnavailable) throw error;
        throw new OperationFailure(name, reason(error));
      }
    });
}

/** Restart the nodes in the order above; returns the leader after it (the first follower after a switchover). */
export async function rollingRestart(
  s: RestartSteps,
  order: RestartOrder,
): Promise<{ leader: string; restarted: string[] }> {
  const { leader, followers } = order;
  const restart = (nodeId: string, upstream?: string) => {
    s.entering?.(`restart-${nodeId}`);
    return s.step(`restart-${nodeId}`, async () => {
      await s.beforeRestart?.(nodeId);
      const started = Date.now();
      await restartNode(s.deps, s.run.clusterId, nodeId);
      if (upstream) await waitStreaming(s.deps, s.run.clusterId, upstream, [nodeId]);
      return { restartMs: Date.now() - started };
    });
  };
  if (followers.length === 0) {
    await restart(leader);
    return { leader, restarted: [leader] };
  }
  if (order.leaderFirst) {
    await restart(leader);
    for (const f of followers) await restart(f, leader);
    return { leader, restarted: [leader, ...followers] };
  }
  for (const f of followers) await restart(f, leader);
  const newLeader = followers[0]!;
  await switchoverWithin(s, leader, newLeader);
  await restart(leader, newLeader);
  return { leader: newLeader, restarted: [...followers, leader] };
}

/** Stop (fast) and start a node: it comes back with the configuration written for it. */
export async function restartNode(deps: ReconcileDeps, clusterId: string, nodeId: string): Promise<void> {
  const rid = runtimeNodeId(clusterId, nodeId);
  await deps.runtime.stop(rid, 'fast');
  await deps.runtime.start(rid);
}

/** Until every one of `nodeIds` streams from `leader` (60 s at most). */
export async function waitStreaming(
  deps: ReconcileDeps,
  clusterId: string,
  leader: string,
  nodeIds: readonly string[],
): Promise<void> {
  const target = await deps.runtime.endpoint(runtimeNodeId(clusterId, leader));
  const wanted = nodeIds.map(slotName);
  for (const deadline = Date.now() + 60_000; ; ) {
    const standbys = await nodeStatus(target)
      .then((st) => st.standbys)
      .catch(() => []);
    const streaming = standbys.filter((st) => st.state === 'streaming').map((st) => st.applicationName);
    if (wanted.every((w) => streaming.includes(w))) return;
    if (Date.now() > deadline) throw new Error(`${nodeIds.join(', ')} not streaming from ${leader} after 60 s`);
    await sleep(100);
  }
}

/** The switchover operation's steps, run inside this one (recorded as `switchover-{step}`). */
async function switchoverWithin(s: RestartSteps, from: string, to: string): Promise<void> {
  const prefix = (name: string) => `switchover-${name}`;
  s.entering?.(prefix('check'));
  const sub: OperationRun = {
    clusterId: s.run.clusterId,
    operation: { ...s.run.operation, params: { from, to } },
    log: s.run.log,
    step: (name, fn) => {
      s.entering?.(prefix(name));
      return s.run.step(prefix(name), fn);
    },
    done: (name) => s.run.done(prefix(name)),
  };
  try {
    await switchoverExecutor(s.deps)(sub);
  } catch (error) {
    if (error instanceof OperationFailure) throw new OperationFailure(prefix(error.step), error.reason);
    throw error;
  }
}
