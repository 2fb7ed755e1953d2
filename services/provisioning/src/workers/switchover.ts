import { findPlan, Id, runtimeNodeId, slotName, type ClusterView } from '@pgfleet/contracts';
import { OperationFailure, type OperationExecutor, type OperationRun } from '@pgfleet/kit';
import {
  ensureReplicationSlots,
  nodeStatus,
  quoteLiteral,
  setSynchronousStandbys,
  withClient,
} from '@pgfleet/postgres';
import { NodeRuntimeError, type UpstreamLeader } from '@pgfleet/runtime';
import { z } from 'zod';
import { replicationSecretRef } from '../commands.js';
import { REPLICATION_USER, type ReconcileDeps } from './reconcile.js';
import { loadCluster, recordOutcome } from './record.js';
import { until } from './until.js';

/**
 * The switchover operation: a planned, clean leader change, as idempotent steps recorded as they
 * complete (a restarted service resumes after the last one):
 *
 * 1. `check`: the cluster is led by `from`, which runs as a primary; `to` runs as a standby and streams.
 * 1b. `cascade`: the other followers stream from `to` (cascading) while `from` still leads and `to`
 *    acknowledges its commits: at the promotion they follow `to`'s new timeline at once, rather than
 *    being pointed at it afterwards while the writes wait for a synchronous standby.
 * 2. `fence`: `from` shuts down cleanly (fast: a shutdown checkpoint, and its walsenders send all WAL
 *    first), so it accepts no write any more; its last checkpoint is the step's detail. The step
 *    ends at that checkpoint, while its archiver and processes finish.
 * 3. `caught-up`: `to` has received everything `from` wrote.
 * 4. `promote`: `to` is promoted (a step resumed on a primary finds it done); then the slots of
 *    its standbys are made on it and, when the plan says so, its commits wait for ANY 1 of them.
 * 5. `record-leader`: LeaderChanged through the cluster decider; the gateways follow it at once,
 *    so writes resume as soon as a standby streams from the new leader, not after all of them.
 * 6. `repoint-followers`: the other followers (running) stream from the new leader (done by
 *    `cascade` unless a run of an older version recorded the steps before it).
 * 7. `old-leader-follows`: `from` becomes its standby (the same history up to the shutdown
 *    checkpoint, so no rewind) and starts.
 * 8. `sync`: every standby streams; synchronous replication set again on the new leader (none
 *    streaming: left asynchronous, or every commit would wait forever).
 *
 * Never two primaries: `to` is promoted only while `from` is stopped (each step before the
 * promotion stops it again, so a resumed run never trusts an old fence). A failure up to the
 * promotion starts `from` again as the leader, only once `to` is known not to be a primary
 * (standby, or stopped in recovery), and the operation fails at that step; after it, `from`
 * only ever starts as a standby, the other steps are still done, the leader change is recorded,
 * and the operation fails at the step that could not be done.
 */
export function switchoverExecutor(deps: ReconcileDeps): OperationExecutor {
  return async (run) => {
    const sw = await Switchover.load(deps, run);
    await sw.step('check', () => sw.check());
    let promoted: Detail;
    try {
      await sw.step('cascade', () => sw.cascade());
      await sw.step('fence', () => sw.fence());
      await sw.step('caught-up', () => sw.caughtUp());
      promoted = await sw.step('promote', () => sw.promote());
    } catch (error) {
      // Promoted after all (the failure came after pg_promote did its work): forward, never back.
      if (!(await sw.promotedAnyway())) throw await sw.rollBack(error);
      promoted = await sw.step('promote', () => sw.promote());
    }
    const { timeline } = Promoted.parse(promoted);
    // After the promotion the old leader only ever starts as a standby. A step that cannot be done (a node that does
    // not start, a standby that does not stream in time) does not stop the others, the leader change is recorded all
    // the same, and the operation fails at that step; lost infrastructure (the store) is thrown: resumed later.
    const failures: OperationFailure[] = [];
    const attempt = async (name: string, fn: () => Promise<Detail>) => {
      try {
        await sw.step(name, fn);
      } catch (error) {
        if (!(error instanceof OperationFailure || error instanceof NodeRuntimeError)) throw error;
        failures.push(new OperationFailure(name, reason(error)));
      }
    };
    await sw.step('record-leader', () => sw.recordLeader(timeline));
    await attempt('repoint-followers', () => sw.repointFollowers());
    await attempt('old-leader-follows', () => sw.oldLeaderFollows());
    await attempt('sync', () => sw.sync(failures.map((f) => f.step)));
    const failed = failures[0];
    if (failed) throw new OperationFailure(failed.step, `${failed.reason}; ${sw.to} is the leader`);
    return { from: sw.from, to: sw.to, timeline };
  };
}

const Params = z.object({ from: Id, to: Id });
const Promoted = z.object({ timeline: z.number().int().positive() });
type Detail = Record<string, unknown>;

/** What a node is now, as far as writes go. */
type Role = 'primary' | 'standby' | 'stopped-primary' | 'stopped-standby' | 'missing' | 'unreachable';

const reason = (error: unknown) =>
  error instanceof OperationFailure ? error.reason : error instanceof Error ? error.message : String(error);

class Switchover {
  /** The step running (or last run): where the operation fails. */
  current = 'check';

  private constructor(
    private readonly deps: ReconcileDeps,
    private readonly run: OperationRun,
    private readonly view: ClusterView,
    readonly from: string,
    readonly to: string,
  ) {}

  static async load(deps: ReconcileDeps, run: OperationRun): Promise<Switchover> {
    const params = Params.safeParse(run.operation.params);
    if (!params.success) throw new OperationFailure('check', 'the operation does not name the nodes from and to');
    const { view } = await loadCluster(deps.store, run.clusterId);
    return new Switchover(deps, run, view, params.data.from, params.data.to);
  }

  step(name: string, fn: () => Promise<Detail>): Promise<Detail> {
    this.current = name;
    return this.run.step(name, fn);
  }

  private rid = (nodeId: string) => runtimeNodeId(this.run.clusterId, nodeId);
  private endpoint = (nodeId: string) => this.deps.runtime.endpoint(this.rid(nodeId));
  private get others(): string[] {
    return this.view.nodes.map((n) => n.nodeId).filter((id) => id !== this.from && id !== this.to);
  }
  private get standbys(): string[] {
    return [this.from, ...this.others];
  }

  /** Running: what pg_is_in_recovery() says; stopped: what its control file says it was. */
  async roleOf(nodeId: string): Promise<Role> {
    const rid = this.rid(nodeId);
    const { state } = await this.deps.runtime.status(rid);
    if (state === 'missing') return 'missing';
    if (state === 'stopped') {
      const cluster = (await this.deps.runtime.controlData(rid))['Database cluster state'] ?? '';
      return /^(shut down in recovery|in archive recovery)$/.test(cluster) ? 'stopped-standby' : 'stopped-primary';
    }
    const sql = 'SELECT pg_is_in_recovery() AS r';
    const inRecovery = await withClient(await this.endpoint(nodeId), async (q) => (await q.query(sql)).rows[0]?.r)
      .then((r: unknown) => r === true)
      .catch(() => undefined);
    if (inRecovery === undefined) return 'unreachable';
    return inRecovery ? 'standby' : 'primary';
  }

  /** Nothing is changed before this step: whatever stops it fails the operation. */
  async check(): Promise<Detail> {
    try {
      return await this.checked();
    } catch (error) {
      throw error instanceof OperationFailure ? error : new OperationFailure('check', reason(error));
    }
  }

  private async checked(): Promise<Detail> {
    const fail = (why: string) => new OperationFailure('check', why);
    const { view, from, to } = this;
    if (view.status !== 'ready' || view.leader !== from) {
      throw fail(`cluster ${view.name} is ${view.status} and led by ${view.leader ?? 'nobody'}, not by ${from}`);
    }
    if (!view.nodes.some((n) => n.nodeId === to)) throw fail(`cluster ${view.name} has no node ${to}`);
    if (!(await this.deps.secrets.get(replicationSecretRef(this.run.clusterId)))) {
      throw fail("the cluster's replication password is missing from the secret store");
    }
    const leader = await this.roleOf(from);
    if (leader !== 'primary') throw fail(`${from} is not running as a primary (${leader}); nothing was changed`);
    const target = await nodeStatus(await this.endpoint(to)).catch(() => undefined);
    if (!target?.inRecovery || target.receiver?.status !== 'streaming') {
      throw fail(`${to} is not a standby streaming from ${from}; nothing was changed`);
    }
    return {};
  }

  /**
   * Fence the old leader (again: at once when it is down) and read its last checkpoint: nothing is
   * written after it. Resolved at its shutdown checkpoint, not once its archiver and processes are
   * done: the old leader only ever starts again after a full `stop` (old-leader-follows, rollBack).
   */
  private async fenced(): Promise<string> {
    return (await this.deps.runtime.fence(this.rid(this.from))).checkpoint;
  }

  async fence(): Promise<Detail> {
    // A checkpoint while writes go on: the shutdown checkpoint that fences has little left to write.
    await withClient(await this.endpoint(this.from), (q) => q.query('CHECKPOINT')).catch(() => undefined);
    return { checkpoint: await this.fenced() };
  }

  /** The target has received the old leader's last record (its WAL receiver's position is past the checkpoint). */
  private async receivedUpTo(checkpoint: string): Promise<void> {
    const received = `SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), ${quoteLiteral(checkpoint)}::pg_lsn) > 0 AS ok`;
    const target = await this.endpoint(this.to);
    const probe = () =>
      withClient(target, async (q) => ((await q.query(received)).rows[0]?.ok === true ? true : undefined));
    // Polled closely: writes wait for it (the fenced leader's last WAL arrives within milliseconds).
    await until(this.current, `${this.to} receiving the WAL of ${this.from} up to ${checkpoint}`, probe, 30_000, 25);
  }

  async caughtUp(): Promise<Detail> {
    const checkpoint = await this.fenced();
    await this.receivedUpTo(checkpoint);
    return { received: checkpoint };
  }

  async promote(): Promise<Detail> {
    const rid = this.rid(this.to);
    // Where the step's time goes (it is on the path of every write waiting for the new leader).
    const t0 = Date.now();
    const ms: Record<string, number> = {};
    const lap = (what: string) => {
      ms[what] = Date.now() - t0;
    };
    const checkpoint = await this.fenced();
    lap('fenced');
    const role = await this.roleOf(this.to);
    lap('role');
    // Promoted by an earlier attempt and stopped since: it comes back as the primary it is.
    if (role === 'stopped-primary') await this.deps.runtime.start(rid);
    else if (role !== 'primary') {
      await this.receivedUpTo(checkpoint);
      lap('received');
      try {
        await this.deps.runtime.promote(rid);
        lap('promoted');
      } catch (error) {
        // pg_promote may still finish after giving up: settle it one way or the other before anything else.
        if ((await this.roleOf(this.to)) !== 'primary') {
          await this.deps.runtime.stop(rid, 'fast');
          if ((await this.roleOf(this.to)) !== 'stopped-primary') throw error;
          await this.deps.runtime.start(rid);
        }
      }
    }
    await this.prepareNewLeader();
    lap('prepared');
    return { timeline: (await nodeStatus(await this.endpoint(this.to))).timeline, ms };
  }

  /**
   * On the promoted node: a slot for every standby (slots are not replicated), and commits that wait
   * for ANY 1 of them when the plan says so: writes arriving once the gateways follow the new leader
   * wait for the first standby to stream rather than being acknowledged by one node. Idempotent.
   */
  private async prepareNewLeader(): Promise<void> {
    const target = await this.endpoint(this.to);
    await ensureReplicationSlots(target, this.standbys.map(slotName));
    if (this.synchronous) await setSynchronousStandbys(target, this.standbys.map(slotName), 1);
  }

  private get synchronous(): boolean {
    const plan = this.view.plan === undefined ? undefined : findPlan(this.view.plan);
    return plan?.synchronousReplication === true && this.standbys.length > 0;
  }

  /** After a failure in the promote step: is the target a primary (by our promotion) all the same? */
  async promotedAnyway(): Promise<boolean> {
    if (this.current !== 'promote') return false;
    const role = await this.roleOf(this.to).catch(() => 'unreachable' as const);
    return role === 'primary' || role === 'stopped-primary';
  }

  /**
   * A failure before the promotion: the old leader takes its place back, once the target is known
   * not to be a primary; the operation fails at the step. Left for a later run (nothing decided)
   * when that cannot be known.
   */
  async rollBack(error: unknown): Promise<unknown> {
    const step = this.current;
    const why = reason(error);
    const { from, to } = this;
    this.run.log.warn({ step, reason: why }, 'switchover failed before the promotion; checking the target');
    let target = await this.roleOf(to).catch(() => 'unreachable' as const);
    // It may accept writes without answering us, or finish a promotion asked before: stopped, it cannot.
    const mustStop = target === 'unreachable' || (step === 'promote' && target === 'standby');
    if (mustStop) {
      await this.deps.runtime.stop(this.rid(to), 'fast').catch(() => undefined);
      target = await this.roleOf(to).catch(() => 'unreachable' as const);
    }
    if (target === 'primary' || target === 'stopped-primary') {
      return new OperationFailure(step, `${why}; ${to} is a primary, so ${from} was left stopped`);
    }
    // Not known to stay a standby: nothing is decided, the operation is run again later.
    if (target === 'unreachable' || (mustStop && target === 'standby')) {
      return error instanceof Error ? error : new Error(why);
    }
    await this.deps.runtime.stop(this.rid(from), 'fast'); // the fence's shutdown seen through: start starts it
    await this.deps.runtime.start(this.rid(from));
    if (target === 'stopped-standby') await this.deps.runtime.start(this.rid(to)).catch(() => undefined);
    await this.uncascade();
    this.run.log.warn({ step }, `${from} is the leader again`);
    return new OperationFailure(step, `${why}; ${from} stays the leader`);
  }

  /** After a rollback: the followers `cascade` moved stream from `from` again (through `to` they lag behind). */
  private async uncascade(): Promise<void> {
    if (this.others.length === 0) return;
    try {
      const upstream = await this.upstream(this.from);
      for (const f of this.others) await this.deps.runtime.repoint(this.rid(f), upstream, slotName(f));
    } catch (error) {
      this.run.log.warn({ reason: reason(error) }, 'the followers still stream through the switchover target');
    }
  }

  /** The new leader (or `nodeId`) as its standbys reach it (verify-full when the nodes have TLS). */
  private async upstream(nodeId = this.to): Promise<UpstreamLeader> {
    const password = await this.deps.secrets.get(replicationSecretRef(this.run.clusterId));
    if (!password) throw new OperationFailure(this.current, "the cluster's replication password is missing");
    return {
      ...(await this.deps.runtime.peerAddress(this.rid(nodeId))),
      user: REPLICATION_USER,
      password,
      ...(this.deps.home ? { sslmode: 'verify-full' } : {}),
    };
  }

  async oldLeaderFollows(): Promise<Detail> {
    await this.prepareNewLeader(); // a run of an older version recorded `promote` without it
    const rid = this.rid(this.from);
    // Still shutting down since the fence, or started as a primary by someone else meanwhile: stopped
    // (to the end) before it is made a standby (never two primaries).
    if ((await this.roleOf(this.from)) !== 'standby') await this.deps.runtime.stop(rid, 'fast');
    await this.deps.runtime.follow(rid, await this.upstream(), slotName(this.from));
    await this.deps.runtime.start(rid);
    return {};
  }

  /**
   * Step `cascade` (see the executor): `to` gets, while still a standby, what it needs as the
   * leader (the slots of its standbys-to-be and the plan's synchronous_standby_names, which a standby
   * ignores), so nothing is left to do between its promotion and the first write it takes; then the
   * other followers stream from it.
   */
  async cascade(): Promise<Detail> {
    await this.prepareNewLeader();
    if (this.others.length === 0) return { followers: [] };
    const upstream = await this.upstream();
    for (const f of this.others) await this.deps.runtime.repoint(this.rid(f), upstream, slotName(f));
    return { followers: this.others };
  }

  async repointFollowers(): Promise<Detail> {
    await this.prepareNewLeader();
    const upstream = await this.upstream();
    for (const f of this.others) {
      await this.deps.runtime.repoint(this.rid(f), upstream, slotName(f));
      await this.deps.runtime.start(this.rid(f));
    }
    return { followers: this.others };
  }

  /** Every standby streams (but those whose step `failed`); then synchronous replication if the plan says so. */
  async sync(failed: string[]): Promise<Detail> {
    const target = await this.endpoint(this.to);
    const expected = [
      ...(failed.includes('old-leader-follows') ? [] : [this.from]),
      ...(failed.includes('repoint-followers') ? [] : this.others),
    ];
    const wanted = expected.map(slotName);
    const streamingNow = async () => (await nodeStatus(target)).standbys.filter((s) => s.state === 'streaming');
    try {
      await until(
        'sync',
        `every standby (${expected.join(', ')}) streaming from ${this.to}`,
        async () => {
          const streaming = await streamingNow();
          return wanted.every((w) => streaming.some((s) => s.applicationName === w)) ? true : undefined;
        },
        60_000,
      );
    } catch (error) {
      // With no standby streaming, synchronous commits would wait forever: left asynchronous (the operation fails).
      if ((await streamingNow().catch(() => [])).length === 0) await setSynchronousStandbys(target, []);
      throw error;
    }
    if (!this.synchronous || wanted.length === 0) {
      await setSynchronousStandbys(target, []);
      return { streaming: expected };
    }
    const names = await setSynchronousStandbys(target, this.standbys.map(slotName), 1);
    return { streaming: expected, synchronousStandbyNames: names };
  }

  async recordLeader(timeline: number): Promise<Detail> {
    const { from, to } = this;
    const reply = await recordOutcome(
      this.deps.store,
      this.run.clusterId,
      { type: 'RecordLeaderChanged', from, to, timeline },
      { correlationId: this.run.operation.operationId },
    );
    if (!reply.ok) throw new OperationFailure('record-leader', reply.message);
    return { leader: to, timeline };
  }
}
