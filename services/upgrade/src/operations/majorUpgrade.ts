import { runtimeNodeId } from '@pgfleet/contracts';
import { OperationFailure, type OperationExecutor, type OperationRun } from '@pgfleet/kit';
import { z } from 'zod';
import { UpgradeParams } from '../domain/upgrade.js';
import { analyze, recloneFollowers, requestFullBackup, resetPitr, updateExtensions } from './afterStart.js';
import type { UpgradeDeps } from './deps.js';
import { Checked, checkStep, rollBack, startLeaderStep, stopStep, upgradeLeaderStep } from './leader.js';
import { recordClusterUpgraded } from './record.js';

const Started = z.object({ at: z.string(), serverVersion: z.string() });

/**
 * The major-upgrade operation, as idempotent steps recorded as they complete (a restarted upgrade
 * service resumes at the first one not recorded):
 *
 * `check` (pg_upgrade --check against the running leader; `--check` alone ends here) →
 * `stop` (the leader; the followers keep serving reads) → `upgrade-leader` (pg_upgrade --link into a
 * new data directory beside the old one) → `start-leader` (the node switched to the new major and
 * started: writes resume through the same URL; ClusterUpgraded) → `extensions` → `analyze` (started
 * in the background) → `pitr-reset` (stanza-upgrade, PitrWindowRestarted) → `followers` (re-cloned
 * on the new major, streaming, synchronous replication as before) → `pitr-backup` (a new full
 * backup) → `analyzed` → `cleanup` (the old data directory removed).
 *
 * The rollback point is `start-leader`: a failure before it puts the old cluster back (the new
 * data directory removed, pg_control renamed back, the nodes started on the old major) and ends the
 * operation failed; from it on the old data directory never starts again (with --link the new
 * server writes into files the old one shares), so later steps are retried, never rolled back.
 */
export function majorUpgradeOperation(deps: UpgradeDeps): OperationExecutor {
  return async (run) => {
    const parsed = UpgradeParams.safeParse(run.operation.params);
    if (!parsed.success) throw new OperationFailure('check', 'the operation does not say which versions');
    const params = parsed.data;
    const nodes = Checked.parse(await run.step('check', () => checkStep(deps, run, params)));
    if (params.checkOnly) {
      return { checkOnly: true, compatible: true, fromVersion: params.fromVersion, toVersion: params.toVersion };
    }

    let started: z.infer<typeof Started>;
    try {
      await run.step('stop', () => stopStep(deps, run, nodes));
      await run.step('upgrade-leader', () => upgradeLeaderStep(deps, run, params, nodes));
      started = Started.parse(await run.step('start-leader', () => startLeader(deps, run, params, nodes)));
    } catch (error) {
      if (error instanceof OperationFailure && !run.done('start-leader')) await rollBack(deps, run, nodes);
      throw error;
    }

    // Writes go on from here: the rest only finishes the job (never a rollback).
    await run.step('extensions', () => updateExtensions(deps, run, nodes));
    let analyzing: Promise<{ durationMs: number }> | undefined;
    await run.step('analyze', async () => {
      analyzing = analyze(deps, run, nodes);
      analyzing.catch(() => undefined); // awaited by `analyzed`
      return { started: true };
    });
    await run.step('pitr-reset', () => resetPitr(deps, run, nodes, started.at));
    await run.step('followers', () => recloneFollowers(deps, run, params, nodes));
    await run.step('pitr-backup', () => requestFullBackup(deps, run));
    // A resumed run has no vacuumdb of its own in flight: it runs one (statistics are cheap to redo).
    await run.step('analyzed', () => analyzing ?? analyze(deps, run, nodes));
    await run.step('cleanup', async () => {
      await deps.runtime.majorUpgrade.removeOld(runtimeNodeId(run.clusterId, nodes.leader));
      return { removed: [nodes.leader] };
    });
    return {
      fromVersion: params.fromVersion,
      toVersion: params.toVersion,
      serverVersion: started.serverVersion,
      leader: nodes.leader,
      followers: nodes.followers.map((f) => f.nodeId),
      upgradedAt: started.at,
    };
  };
}

/** Step `start-leader`, then ClusterUpgraded (the cluster's version from now on; once per operation). */
async function startLeader(deps: UpgradeDeps, run: OperationRun, params: UpgradeParams, nodes: Checked) {
  const started = await startLeaderStep(deps, run, params, nodes);
  const data = {
    fromVersion: params.fromVersion,
    toVersion: params.toVersion,
    at: started.at,
    operationId: run.operation.operationId,
  };
  const reply = await recordClusterUpgraded(deps.store, run.clusterId, data);
  if (!reply.ok) throw new Error(`ClusterUpgraded could not be recorded: ${reply.message}`);
  return started;
}
