import { findPlan, Id, runtimeNodeId, slotName } from '@pgfleet/contracts';
import { OperationFailure, type OperationExecutor } from '@pgfleet/kit';
import { ensureReplicationSlots, nodeStatus, setSynchronousStandbys } from '@pgfleet/postgres';
import { nodeSetupOf, recloneFollower } from '@pgfleet/runtime';
import { z } from 'zod';
import { loadView, recordHa } from '../record.js';
import type { HaDeps } from './failover.js';
import { upstreamOf } from './upstream.js';

const Params = z.object({ nodeId: Id });
const Rewound = z.object({ method: z.enum(['rewind', 'clone']) });

const reason = (e: unknown) => (e instanceof Error ? e.message : String(e));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The rejoin operation: a fenced old leader (or a primary that is not the leader) follows the
 * leader again, as idempotent steps:
 *
 * 1. `stop`: it is stopped (immediate: it must not write anything more).
 * 2. `rewind`: pg_rewind onto the leader's timeline; when that fails, a fresh clone.
 * 3. `follow`: its slot on the leader, standby settings, started.
 * 4. `streaming`: it streams from the leader.
 * 5. `sync`: it is in the leader's synchronous quorum again (when the plan says so).
 * 6. `record`: NodeRejoined: it is no longer fenced, and the gateways serve it as a follower.
 */
export function rejoinExecutor(deps: HaDeps): OperationExecutor {
  return async (run) => {
    const parsed = Params.safeParse(run.operation.params);
    if (!parsed.success) throw new OperationFailure('stop', 'the operation does not name the node');
    const { nodeId } = parsed.data;
    const view = await loadView(deps.store, run.clusterId);
    const leader = view.leader;
    if (!leader || leader === nodeId) throw new OperationFailure('stop', `${nodeId} is the leader: nothing to rejoin`);
    const rid = runtimeNodeId(run.clusterId, nodeId);
    const leaderRid = runtimeNodeId(run.clusterId, leader);
    const upstream = () => upstreamOf(deps, run.clusterId, leader);

    await run.step('stop', async () => {
      await deps.runtime.stop(rid, 'immediate');
      return {};
    });
    const { method } = Rewound.parse(
      await run.step('rewind', async () => {
        try {
          await deps.runtime.rewind(rid, leaderRid);
          return { method: 'rewind' };
        } catch (error) {
          run.log.warn({ nodeId, err: reason(error) }, 'rewind failed; cloning the node again');
          if (!view.plan || !findPlan(view.plan)) throw new OperationFailure('rewind', `unknown plan ${view.plan}`);
          const { node } = await deps.runtime.status(rid);
          if (!node) throw new OperationFailure('rewind', `node ${nodeId} is unknown to the runtime`);
          const target = { clusterId: run.clusterId, nodeId, leader, major: node.major, port: node.port };
          await recloneFollower(deps.runtime, target, nodeSetupOf(view, nodeId, deps.home), await upstream());
          return { method: 'clone' };
        }
      }),
    );
    await run.step('follow', async () => {
      await ensureReplicationSlots(await deps.runtime.endpoint(leaderRid), [slotName(nodeId)]);
      await deps.runtime.follow(rid, await upstream(), slotName(nodeId));
      await deps.runtime.start(rid);
      return {};
    });
    const timeline = await run.step('streaming', async () => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const st = await nodeStatus(await deps.runtime.endpoint(rid)).catch(() => undefined);
        if (st?.inRecovery && st.receiver?.status === 'streaming') return { timeline: st.timeline };
        if (Date.now() > deadline) throw new OperationFailure('streaming', `${nodeId} does not stream from ${leader}`);
        await sleep(200);
      }
    });
    await run.step('sync', async () => {
      const plan = view.plan ? findPlan(view.plan) : undefined;
      if (!plan?.synchronousReplication || view.syncDegradedAt !== undefined) return {};
      const names = view.nodes
        .map((n) => n.nodeId)
        .filter((id) => id !== leader)
        .map(slotName);
      return {
        synchronousStandbyNames: await setSynchronousStandbys(await deps.runtime.endpoint(leaderRid), names, 1),
      };
    });
    await run.step('record', async () => {
      const tl = typeof timeline.timeline === 'number' ? timeline.timeline : undefined;
      const reply = await recordHa(deps.store, run.clusterId, {
        type: 'RecordNodeRejoined',
        nodeId,
        leader,
        method,
        ...(tl !== undefined ? { timeline: tl } : {}),
      });
      if (!reply.ok) throw new OperationFailure('record', reply.message);
      return {};
    });
    return { nodeId, leader, method };
  };
}
