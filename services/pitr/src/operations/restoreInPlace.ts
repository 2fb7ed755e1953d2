import { sendCommand } from '@pgfleet/bus';
import {
  archiveStanzaOf,
  findPlan,
  followersOf,
  foldClusterView,
  leaderOf,
  runtimeNodeId,
  slotName,
  streamIds,
} from '@pgfleet/contracts';
import { OperationFailure, type OperationRun } from '@pgfleet/kit';
import { fenceRole, nodeStatus, setSynchronousStandbys, unfenceRole } from '@pgfleet/postgres';
import { nodeSetupOf, recloneFollower, upstreamLeaderOf } from '@pgfleet/runtime';
import { z } from 'zod';
import type { PitrRestoreDeps } from './deps.js';
import { recordWindowRestarted } from './window.js';

/** The role of the application (the platform's `app`): fenced during the restore. */
const APP_ROLE = 'app';

const Checked = z.object({
  stanza: z.string(),
  leader: z.string(),
  followers: z.array(z.object({ nodeId: z.string(), port: z.number().int() })),
  major: z.number().int(),
});
type Checked = z.infer<typeof Checked>;

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Restore to a time in place, as idempotent steps (a restarted pitr service resumes at the first
 * one not recorded; each can run again):
 * `check` (the nodes), `fence` (the application may not log in, its sessions end), `stop-followers`,
 * `stop-leader`, `restore` (the leader's data from the cluster's own archive to the target time,
 * its configuration rewritten, started; synchronous standbys cleared and the application fenced
 * again, as the restored catalog predates the fence), `reclone-followers` (each a fresh clone of
 * the restored leader, started), `streaming` (then the plan's synchronous quorum),
 * `window-restarted` (PitrWindowRestarted), `request-backup` (a new full backup), `unfence`.
 *
 * Until `unfence` the application cannot log in, so a cluster half restored is never given out. A
 * failure before the leader's data is touched restarts the nodes and unfences; a failure from
 * `restore` on leaves the cluster fenced (and says so): an in-place restore again repairs it.
 */
export async function restoreInPlace(deps: PitrRestoreDeps, run: OperationRun, targetTime: string) {
  const { clusterId } = run;
  const name = async () => (await loadView(deps, clusterId)).name ?? clusterId;
  const nodes = Checked.parse(await run.step('check', () => check(deps, clusterId)));
  const rid = (nodeId: string) => runtimeNodeId(clusterId, nodeId);
  const leaderRid = rid(nodes.leader);

  try {
    await run.step('fence', async () => {
      if ((await deps.runtime.status(leaderRid)).state !== 'running') return { skipped: 'the leader is stopped' };
      return fenceRole(await deps.runtime.endpoint(leaderRid, 'postgres'), APP_ROLE);
    });
    await run.step('stop-followers', async () => {
      await Promise.all(nodes.followers.map((f) => deps.runtime.stop(rid(f.nodeId), 'fast')));
      return { stopped: nodes.followers.map((f) => f.nodeId) };
    });
    await run.step('stop-leader', async () => {
      await deps.runtime.stop(leaderRid, 'fast');
      return { stopped: nodes.leader };
    });
  } catch (error) {
    if (error instanceof OperationFailure) await putBack(deps, run, nodes);
    throw error;
  }

  await run.step('restore', async () => {
    const view = await loadView(deps, clusterId);
    const t0 = Date.now();
    try {
      await deps.runtime.stop(leaderRid, 'fast'); // an earlier attempt may have started it
      const setup = nodeSetupOf(view, nodes.leader, deps.home);
      await deps.runtime.archive.restore(leaderRid, { stanza: nodes.stanza, targetTime, setup });
      const endpoint = await deps.runtime.endpoint(leaderRid, 'postgres');
      await setSynchronousStandbys(endpoint, []);
      await fenceRole(endpoint, APP_ROLE);
    } catch (error) {
      const reason =
        `the restore of ${nodes.leader} to ${targetTime} failed: ${messageOf(error)}; cluster ${await name()} is ` +
        'left stopped with its application fenced: restore it in place again';
      throw new OperationFailure('restore', reason);
    }
    return { node: nodes.leader, targetTime, durationMs: Date.now() - t0 };
  });

  await run.step('reclone-followers', async () => {
    const view = await loadView(deps, clusterId);
    const upstream = await upstreamLeaderOf(deps.runtime, deps.secrets, clusterId, nodes.leader, deps.home);
    await Promise.all(
      nodes.followers.map(async (f) => {
        const target = { clusterId, nodeId: f.nodeId, leader: nodes.leader, major: nodes.major, port: f.port };
        await recloneFollower(deps.runtime, target, nodeSetupOf(view, f.nodeId, deps.home), upstream);
        await deps.runtime.start(rid(f.nodeId));
      }),
    );
    return { recloned: nodes.followers.map((f) => f.nodeId) };
  });

  await run.step('streaming', async () => {
    const view = await loadView(deps, clusterId);
    const standbys = nodes.followers.map((f) => slotName(f.nodeId));
    const endpoint = await deps.runtime.endpoint(leaderRid, 'postgres');
    const deadline = Date.now() + (deps.streamingTimeoutMs ?? 120_000);
    for (;;) {
      const streaming = (await nodeStatus(endpoint)).standbys.filter((s) => s.state === 'streaming').length;
      if (streaming >= standbys.length) break;
      if (Date.now() > deadline) {
        const reason = `the re-cloned followers do not stream from ${nodes.leader}; the application stays fenced`;
        throw new OperationFailure('streaming', reason);
      }
      await sleep(200);
    }
    const plan = view.plan ? findPlan(view.plan) : undefined;
    if (!plan?.synchronousReplication || standbys.length === 0) return { streaming: standbys.length };
    return { streaming: standbys.length, synchronousStandbyNames: await setSynchronousStandbys(endpoint, standbys, 1) };
  });

  await run.step('window-restarted', async () => {
    const at = new Date().toISOString();
    const data = {
      clusterId,
      at,
      reason: 'in-place-restore' as const,
      targetTime,
      operationId: run.operation.operationId,
    };
    const reply = await recordWindowRestarted(deps.store, data);
    if (!reply.ok) throw new Error(`PitrWindowRestarted could not be recorded: ${reply.message}`);
    return { at };
  });

  await run.step('request-backup', () => requestFullBackup(deps, run));
  await run.step('unfence', () => unfence(deps, run, leaderRid));
  return { clusterId, targetName: await name(), targetTime, inPlace: true, node: nodes.leader };
}

async function loadView(deps: PitrRestoreDeps, clusterId: string) {
  return foldClusterView((await deps.store.readStream(streamIds.cluster(clusterId))).events);
}

/** Step `check`: the cluster is ready with a leader, and archives (its nodes recorded for the resumed steps). */
async function check(deps: PitrRestoreDeps, clusterId: string): Promise<Checked> {
  const view = await loadView(deps, clusterId);
  const leader = leaderOf(view);
  const stanza = archiveStanzaOf(view);
  const name = view.name ?? clusterId;
  if (view.status !== 'ready' || !leader?.provisioned || !view.version) {
    throw new OperationFailure('check', `cluster ${name} is ${view.status}, with no leader to restore`);
  }
  if (!stanza) throw new OperationFailure('check', `cluster ${name} has no PITR archive`);
  const followers = followersOf(view).filter((f) => f.port !== undefined);
  return {
    stanza,
    leader: leader.nodeId,
    followers: followers.map((f) => ({ nodeId: f.nodeId, port: f.port! })),
    major: view.version,
  };
}

/** After a failure before the leader's data was touched: the nodes run again and the application logs in. */
async function putBack(deps: PitrRestoreDeps, run: OperationRun, nodes: Checked) {
  const rid = (nodeId: string) => runtimeNodeId(run.clusterId, nodeId);
  try {
    await deps.runtime.start(rid(nodes.leader));
    await Promise.all(nodes.followers.map((f) => deps.runtime.start(rid(f.nodeId))));
    await unfenceRole(await deps.runtime.endpoint(rid(nodes.leader), 'postgres'), APP_ROLE);
  } catch (error) {
    run.log.error({ err: messageOf(error) }, 'the cluster could not be put back after a failed in-place restore');
  }
}

/** Step `request-backup`: the pitr service's RequestPitrBackup (the window restarts at its end). */
async function requestFullBackup(deps: PitrRestoreDeps, run: OperationRun) {
  if (!deps.nc) return { requested: false, reason: 'no NATS connection' };
  const meta = {
    commandId: `${run.operation.operationId}:request-backup`,
    correlationId: run.operation.operationId,
    actor: { kind: 'service' as const, id: 'pitr' },
  };
  const reply = await sendCommand(deps.nc, 'pitr', 'RequestPitrBackup', { clusterId: run.clusterId }, meta);
  if (reply.ok) return { requested: true, ...(reply.result ?? {}) };
  if (reply.code === 'SERVICE_UNAVAILABLE' || reply.code === 'TIMEOUT') {
    throw new Error(`a full backup cannot be requested now: ${reply.message}`);
  }
  run.log.warn({ code: reply.code, reason: reply.message }, 'no full backup after the in-place restore');
  return { requested: false, reason: reply.message };
}

/** Step `unfence`, retried for a while (then left to the next attempt: the operation stays running). */
async function unfence(deps: PitrRestoreDeps, run: OperationRun, leaderRid: string) {
  const deadline = Date.now() + (deps.unfenceRetryMs ?? 60_000);
  for (;;) {
    try {
      await unfenceRole(await deps.runtime.endpoint(leaderRid, 'postgres'), APP_ROLE);
      return { node: leaderRid };
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`the application could not be unfenced yet: ${messageOf(error)}`);
      run.log.warn({ err: messageOf(error) }, 'unfence failed; retrying');
      await sleep(1000);
    }
  }
}
