import { foldClusterView, foldGateways, runtimeNodeId, streamIds, type ClusterView } from '@pgfleet/contracts';
import { OperationFailure, type OperationRun } from '@pgfleet/kit';
import { withClient } from '@pgfleet/postgres';
import { NodeRuntimeError, nodeSetupOf, type NodeSetup } from '@pgfleet/runtime';
import { z } from 'zod';
import { upgradeNodes, type UpgradeParams } from '../domain/upgrade.js';
import type { UpgradeDeps } from './deps.js';

/** What the `check` step records for the steps after it (a resumed run reads it back). */
export const Checked = z.object({
  name: z.string(),
  leader: z.string(),
  followers: z.array(z.object({ nodeId: z.string(), port: z.number().int() })),
  /** The leader's synchronous_standby_names before the upgrade, put back once the followers stream. */
  synchronousStandbyNames: z.string(),
});
export type Checked = z.infer<typeof Checked>;

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export async function loadView(deps: UpgradeDeps, clusterId: string): Promise<ClusterView> {
  return foldClusterView((await deps.store.readStream(streamIds.cluster(clusterId))).events);
}

/** The setup of a node of the cluster on the new major: plan, TLS, archive, parameters, forced TLS kept. */
export async function upgradedSetup(deps: UpgradeDeps, view: ClusterView, nodeId: string): Promise<NodeSetup> {
  const gateways = await deps.store.readStream(streamIds.gateway(view.clusterId!));
  const forceTls = foldGateways(gateways.events).tlsForced;
  return { ...nodeSetupOf(view, nodeId, deps.home), ...(forceTls ? { forceTls } : {}) };
}

/**
 * Step `check`: the cluster's nodes as they are, and pg_upgrade --check against the running
 * leader (the new data directory is initialized beside the old one on the way, ready for the real
 * run). A refusal ends the operation with pg_upgrade's reasons; nothing was changed.
 */
export async function checkStep(deps: UpgradeDeps, run: OperationRun, params: UpgradeParams): Promise<Checked> {
  const view = await loadView(deps, run.clusterId);
  const name = view.name ?? run.clusterId;
  const nodes = upgradeNodes(view);
  const rid = runtimeNodeId(run.clusterId, nodes.leader);
  if ((await deps.runtime.status(rid)).state !== 'running') {
    throw new OperationFailure('check', `the leader ${nodes.leader} of cluster ${name} is not running`);
  }
  const endpoint = await deps.runtime.endpoint(rid);
  const sql = 'SELECT current_setting($1) AS v';
  const sync = await withClient(endpoint, async (q) => (await q.query(sql, ['synchronous_standby_names'])).rows[0]?.v);
  const check = await deps.runtime.majorUpgrade.check(rid, { toMajor: params.toVersion });
  if (!check.ok || params.checkOnly) await deps.runtime.majorUpgrade.discard(rid);
  if (!check.ok) {
    const reason =
      `pg_upgrade --check refuses to upgrade cluster ${name} from ${params.fromVersion} to ` +
      `${params.toVersion}: ${check.reasons.join(' | ')}; nothing was changed`;
    throw new OperationFailure('check', reason);
  }
  return { name, ...nodes, synchronousStandbyNames: String(sync ?? '') };
}

/**
 * Step `stop`: the leader stopped (fast). The followers keep serving reads (of the data as it was
 * at the stop) until each one is re-cloned from the upgraded leader.
 */
export async function stopStep(deps: UpgradeDeps, run: OperationRun, nodes: Checked) {
  await deps.runtime.stop(runtimeNodeId(run.clusterId, nodes.leader), 'fast');
  return { stopped: [nodes.leader], serving: nodes.followers.map((f) => f.nodeId) };
}

/** Step `upgrade-leader`: pg_upgrade --link of the stopped leader; its refusal is the operation's end (rolled back). */
export async function upgradeLeaderStep(deps: UpgradeDeps, run: OperationRun, params: UpgradeParams, nodes: Checked) {
  const t0 = Date.now();
  try {
    await deps.runtime.majorUpgrade.upgrade(runtimeNodeId(run.clusterId, nodes.leader), { toMajor: params.toVersion });
  } catch (error) {
    if (error instanceof NodeRuntimeError && error.code === 'UPGRADE_FAILED') {
      throw new OperationFailure('upgrade-leader', error.message);
    }
    throw error;
  }
  return { node: nodes.leader, toVersion: params.toVersion, durationMs: Date.now() - t0 };
}

/**
 * Step `start-leader`: the leader's record switched to the new major and data directory (from here
 * on the old one never starts again), its own configuration written (TLS, hba, archiving), started;
 * the gateways keep forwarding to the same node and port, so writes resume through the same URL.
 */
export async function startLeaderStep(deps: UpgradeDeps, run: OperationRun, params: UpgradeParams, nodes: Checked) {
  const view = await loadView(deps, run.clusterId);
  const rid = runtimeNodeId(run.clusterId, nodes.leader);
  const setup = await upgradedSetup(deps, view, nodes.leader);
  await deps.runtime.majorUpgrade.switchTo(rid, { toMajor: params.toVersion, setup });
  await deps.runtime.start(rid);
  const endpoint = await deps.runtime.endpoint(rid);
  const version = await withClient(
    endpoint,
    async (q) => (await q.query('SHOW server_version')).rows[0]?.server_version,
  );
  return { node: nodes.leader, serverVersion: String(version), at: new Date().toISOString() };
}

/**
 * Before the new leader started: the old cluster back as it was (pg_control renamed back, the new
 * data directory gone, every node running on the old major). When that cannot be done now, the
 * error is thrown (not an OperationFailure): the operation stays running and a later attempt rolls
 * back again, so the cluster never stays neither upgraded nor rolled back.
 */
export async function rollBack(deps: UpgradeDeps, run: OperationRun, nodes: Checked): Promise<void> {
  const rid = (nodeId: string) => runtimeNodeId(run.clusterId, nodeId);
  try {
    await deps.runtime.majorUpgrade.discard(rid(nodes.leader));
    await deps.runtime.start(rid(nodes.leader));
    await Promise.all(nodes.followers.map((f) => deps.runtime.start(rid(f.nodeId))));
  } catch (error) {
    run.log.error({ err: messageOf(error) }, 'the cluster could not be rolled back yet after a failed upgrade');
    throw new Error(`the rollback of the upgrade did not complete: ${messageOf(error)}`);
  }
}
