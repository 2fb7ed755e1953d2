import { findPlan, Id, runtimeNodeId, slotName, type ClusterView } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { loadOperation, OperationFailure, type OperationExecutor, type OperationRun } from '@pgfleet/kit';
import { ensureReplicationSlots, nodeStatus, setSynchronousStandbys, type SecretStore } from '@pgfleet/postgres';
import type { NodeRuntime } from '@pgfleet/runtime';
import { z } from 'zod';
import { loadView, recordHa } from '../record.js';
import { upstreamOf } from './upstream.js';

export interface HaDeps {
  store: EventStore;
  runtime: NodeRuntime;
  secrets: SecretStore;
  /** The platform home: nodes verify their leader's certificate (verify-full) when set. */
  home?: string;
}

const Params = z.object({
  from: Id,
  term: z.number().int().positive(),
  to: Id.optional(),
  acceptDataLoss: z.boolean().optional(),
  /** Slot names of the standbys that streamed from the leader when it was last seen. */
  streaming: z.array(z.string()).optional(),
});
type Params = z.infer<typeof Params>;

const Fenced = z.object({ received: z.record(z.string(), z.string()), cut: z.array(z.string()) });
const Elected = z.object({ to: Id });
const Promoted = z.object({ timeline: z.number().int().positive() });
/** `sync`: synchronous replication was set on the elected follower (a repoint recorded before it was not). */
const Repointed = z.object({ sync: z.boolean().optional() });

const reason = (e: unknown) => (e instanceof OperationFailure ? e.reason : e instanceof Error ? e.message : String(e));
const lsnValue = (lsn: string) => {
  const [hi, lo] = lsn.split('/');
  return BigInt(`0x${hi}`) * 2n ** 32n + BigInt(`0x${lo}`);
};

/** Resolve with `promise`, or undefined after `ms` (the promise goes on by itself). */
const bounded = <T>(promise: Promise<T>, ms: number): Promise<T | undefined> =>
  Promise.race([promise, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);

/**
 * The failover operation, as idempotent steps recorded as they complete (FailoverStarted, appended
 * with it, already took the old leader out of the gateways):
 *
 * 1. `fence`: every follower's WAL receiver is stopped and confirmed stopped, so the old leader,
 *    whose commits wait for ANY 1 follower, can no longer have one acknowledged; each follower's
 *    last received WAL location is recorded. The old leader is also asked to stop (not waited for:
 *    a frozen one gets the signal when it wakes).
 * 2. `elect`: the follower with the most WAL among those that confirmed, or `to`. Refused when a
 *    follower that streamed from the old leader did not confirm (it may hold acknowledged commits
 *    the others lack) or synchronous replication was degraded, unless `acceptDataLoss`.
 * 3. `repoint`: slots on the elected follower, and the other followers stream from it while it is
 *    still a standby (cascading): at its promotion they follow its new timeline at once, so the
 *    first commit on the new leader is acknowledged without waiting for a reconnection.
 * 4. `promote`: synchronous replication (ANY 1 of the others) is set on the elected follower first
 *    when the plan says so (during `repoint`, or here when that step was recorded without it), so
 *    not one commit is acknowledged by it alone; then it is promoted.
 * 5. `record-leader`: LeaderChanged {reason: failover, term}; the gateways switch to it at once.
 *
 * Never two primaries: a follower is promoted only after none of them can acknowledge the old
 * leader's commits and the gateways no longer send it any; the old leader is never started again
 * as a leader (it rejoins as a follower, rewound). A failure before the promotion leaves the
 * cluster without a leader, fenced, and says how to finish by hand.
 */
export function failoverExecutor(deps: HaDeps): OperationExecutor {
  return async (run) => {
    const parsed = Params.safeParse(run.operation.params);
    if (!parsed.success)
      throw new OperationFailure('fence', 'the operation does not name the lost leader and its term');
    const params = parsed.data;
    const view = await loadView(deps.store, run.clusterId);
    const f = new Failover(deps, run, view, params);
    const fenced = Fenced.parse(await run.step('fence', () => f.fence()));
    const { to } = Elected.parse(await recordedStep(deps.store, run, 'elect', () => f.elect(fenced)));
    const repointed = Repointed.parse(await run.step('repoint', () => f.repoint(to, fenced)));
    const { timeline } = Promoted.parse(await run.step('promote', () => f.promote(to, repointed.sync === true)));
    await run.step('record-leader', () => f.recordLeader(to, timeline));
    return { from: params.from, to, term: params.term, timeline };
  };
}

/**
 * A step whose detail must be the recorded one: two executors racing (two HA replicas resuming the
 * same operation) may each compute one, and only the first recorded counts.
 */
async function recordedStep(
  store: EventStore,
  run: OperationRun,
  name: string,
  fn: () => Promise<Record<string, unknown>>,
): Promise<Record<string, unknown>> {
  const mine = await run.step(name, fn);
  const recorded = await loadOperation(store, run.clusterId, run.operation.operationId);
  return recorded?.steps.find((s) => s.step === name)?.detail ?? mine;
}

class Failover {
  constructor(
    private readonly deps: HaDeps,
    private readonly run: OperationRun,
    private readonly view: ClusterView,
    private readonly params: Params,
  ) {}

  private rid = (nodeId: string) => runtimeNodeId(this.run.clusterId, nodeId);
  private get followers(): string[] {
    return this.view.nodes.map((n) => n.nodeId).filter((id) => id !== this.params.from);
  }

  async fence(): Promise<Record<string, unknown>> {
    const received: Record<string, string> = {};
    const cut: string[] = [];
    await Promise.all(
      this.followers.map(async (nodeId) => {
        const done = await bounded(
          this.deps.runtime.detach(this.rid(nodeId)).catch((e: unknown) => {
            this.run.log.warn({ nodeId, err: reason(e) }, 'follower could not be cut off');
            return undefined;
          }),
          5000,
        );
        if (done?.receivedLsn) {
          received[nodeId] = done.receivedLsn;
          cut.push(nodeId);
        }
      }),
    );
    // The old leader is also stopped, not waited for: a frozen one gets the signal when it wakes (and
    // by then can neither reach a client through the gateways nor have a commit acknowledged).
    this.deps.runtime.stop(this.rid(this.params.from), 'immediate').catch(() => undefined);
    if (cut.length === 0) throw new OperationFailure('fence', 'no follower could be cut off from the old leader');
    return { received, cut };
  }

  async elect(fenced: z.infer<typeof Fenced>): Promise<Record<string, unknown>> {
    const { to, acceptDataLoss, streaming = [] } = this.params;
    const hint = `pgfleet cluster failover ${this.view.name} --to NODE --accept-data-loss`;
    if (!acceptDataLoss) {
      if (this.view.syncDegradedAt !== undefined) {
        const why = `synchronous replication was degraded since ${this.view.syncDegradedAt}: the old leader may have`;
        throw new OperationFailure(
          'elect',
          `${why} acknowledged commits no follower has; to promote one anyway: ${hint}`,
        );
      }
      const missing = this.followers.filter((n) => streaming.includes(slotName(n)) && !fenced.cut.includes(n));
      if (missing.length > 0) {
        const why = `${missing.join(', ')} streamed from the old leader but could not be reached: it may hold`;
        throw new OperationFailure(
          'elect',
          `${why} acknowledged commits the others lack; to promote another anyway: ${hint}`,
        );
      }
    }
    if (to !== undefined) {
      if (!fenced.cut.includes(to))
        throw new OperationFailure('elect', `${to} is not a follower that could be reached`);
      return { to };
    }
    const best = [...fenced.cut].sort((a, b) => {
      const d = lsnValue(fenced.received[b]!) - lsnValue(fenced.received[a]!);
      return d > 0n ? 1 : d < 0n ? -1 : a.localeCompare(b);
    })[0]!;
    return { to: best, received: fenced.received };
  }

  async promote(to: string, synced: boolean): Promise<Record<string, unknown>> {
    const rid = this.rid(to);
    if (!synced) await this.sync(to);
    // A resumed step may find it stopped after its promotion: it comes back as the primary it is.
    if ((await this.deps.runtime.status(rid)).state === 'stopped') await this.deps.runtime.start(rid);
    try {
      await this.deps.runtime.promote(rid);
    } catch (error) {
      throw new OperationFailure('promote', `${to} could not be promoted: ${reason(error)}`);
    }
    return { timeline: (await nodeStatus(await this.deps.runtime.endpoint(rid))).timeline };
  }

  /** Slots and the other followers on `to`; meanwhile its synchronous replication is set (for `promote`). */
  async repoint(to: string, fenced: z.infer<typeof Fenced>): Promise<Record<string, unknown>> {
    const [repointed] = await Promise.all([this.repointOthers(to, fenced), this.sync(to)]);
    return { repointed, sync: true };
  }

  private async repointOthers(to: string, fenced: z.infer<typeof Fenced>): Promise<string[]> {
    const endpoint = await this.deps.runtime.endpoint(this.rid(to));
    const others = this.view.nodes.map((n) => n.nodeId).filter((id) => id !== to);
    // Slots are not replicated: one on the new leader for every other node (the old leader's for its rejoin).
    const [upstream] = await Promise.all([
      upstreamOf(this.deps, this.run.clusterId, to),
      ensureReplicationSlots(endpoint, others.map(slotName), { reserve: false }),
    ]);
    const repointed: string[] = [];
    await Promise.all(
      fenced.cut
        .filter((n) => n !== to)
        .map(async (nodeId) => {
          try {
            await this.deps.runtime.repoint(this.rid(nodeId), upstream, slotName(nodeId));
            repointed.push(nodeId);
          } catch (error) {
            this.run.log.warn({ nodeId, err: reason(error) }, 'follower could not be repointed; it will be rejoined');
          }
        }),
    );
    return repointed;
  }

  /** ANY 1 of the other nodes on `to` (a standby takes ALTER SYSTEM; it applies once promoted). */
  private async sync(to: string): Promise<void> {
    const plan = this.view.plan ? findPlan(this.view.plan) : undefined;
    if (!plan?.synchronousReplication) return;
    const names = this.view.nodes
      .map((n) => n.nodeId)
      .filter((id) => id !== to)
      .map(slotName);
    await setSynchronousStandbys(await this.deps.runtime.endpoint(this.rid(to)), names, 1);
  }

  async recordLeader(to: string, timeline: number): Promise<Record<string, unknown>> {
    const { from, term } = this.params;
    const reply = await recordHa(
      this.deps.store,
      this.run.clusterId,
      { type: 'RecordFailoverLeader', from, to, term, timeline },
      { correlationId: this.run.operation.operationId },
    );
    if (!reply.ok) throw new OperationFailure('record-leader', reply.message);
    return { leader: to, timeline };
  }
}
