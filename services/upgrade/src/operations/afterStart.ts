import { sendCommand } from '@pgfleet/bus';
import { archiveStanzaOf, runtimeNodeId, slotName } from '@pgfleet/contracts';
import { OperationFailure, type OperationRun } from '@pgfleet/kit';
import { nodeStatus, pgString, withClient } from '@pgfleet/postgres';
import { recloneFollower, upstreamLeaderOf } from '@pgfleet/runtime';
import type { UpgradeParams } from '../domain/upgrade.js';
import type { UpgradeDeps } from './deps.js';
import { loadView, upgradedSetup, type Checked } from './leader.js';
import { recordWindowRestarted } from './record.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Step `extensions`: `ALTER EXTENSION … UPDATE` of every extension installed in every database
 * that takes connections (pg_upgrade keeps their old versions). Returns what changed.
 */
export async function updateExtensions(deps: UpgradeDeps, run: OperationRun, nodes: Checked) {
  const rid = runtimeNodeId(run.clusterId, nodes.leader);
  const databases = await withClient(await deps.runtime.endpoint(rid), async (q) => {
    const sql = 'SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname';
    return (await q.query<{ datname: string }>(sql)).rows.map((r) => r.datname);
  });
  const updated: { database: string; extension: string; from: string; to: string }[] = [];
  for (const database of databases) {
    await withClient(await deps.runtime.endpoint(rid, database), async (q) => {
      const sql = "SELECT extname, extversion FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY extname";
      for (const ext of (await q.query<{ extname: string; extversion: string }>(sql)).rows) {
        await q.query(`ALTER EXTENSION ${ident(ext.extname)} UPDATE`);
        const now = await q.query<{ v: string }>('SELECT extversion AS v FROM pg_extension WHERE extname = $1', [
          ext.extname,
        ]);
        const to = now.rows[0]?.v ?? ext.extversion;
        updated.push({ database, extension: ext.extname, from: ext.extversion, to });
      }
    });
  }
  return { updated };
}

/** `vacuumdb --all --analyze-in-stages` on the leader (the planner's statistics are not carried over by pg_upgrade). */
export async function analyze(deps: UpgradeDeps, run: OperationRun, nodes: Checked) {
  const t0 = Date.now();
  const tool = deps.runtime.runTool(runtimeNodeId(run.clusterId, nodes.leader), 'vacuumdb', [
    '--all',
    '--analyze-in-stages',
  ]);
  tool.stdout.resume();
  await tool.done;
  return { durationMs: Date.now() - t0 };
}

/**
 * Step `pitr-reset` (PITR plans): the pgBackRest stanza upgraded to the new version (archiving
 * resumes into it), and PitrWindowRestarted {reason: 'major-upgrade'} at the instant the new leader
 * started: nothing before it can be restored any more, and a restore to such a time says why.
 */
export async function resetPitr(deps: UpgradeDeps, run: OperationRun, nodes: Checked, startedAt: string) {
  const stanza = archiveStanzaOf(await loadView(deps, run.clusterId));
  if (!stanza) return { stanza: null };
  await deps.runtime.archive.upgradeStanza(stanza, runtimeNodeId(run.clusterId, nodes.leader));
  const data = {
    clusterId: run.clusterId,
    at: startedAt,
    reason: 'major-upgrade' as const,
    operationId: run.operation.operationId,
  };
  const reply = await recordWindowRestarted(deps.store, data);
  if (!reply.ok) throw new Error(`PitrWindowRestarted could not be recorded: ${reply.message}`);
  return { stanza, windowRestartedAt: startedAt };
}

/** Step `pitr-backup` (PITR plans): a new full backup asked of the pitr service (the window begins at its end). */
export async function requestFullBackup(deps: UpgradeDeps, run: OperationRun) {
  if (!archiveStanzaOf(await loadView(deps, run.clusterId))) return { requested: false, reason: 'no PITR on the plan' };
  if (!deps.nc) return { requested: false, reason: 'no NATS connection' };
  const meta = {
    commandId: `${run.operation.operationId}:pitr-backup`,
    correlationId: run.operation.operationId,
    actor: { kind: 'service' as const, id: 'upgrade' },
  };
  const reply = await sendCommand(deps.nc, 'pitr', 'RequestPitrBackup', { clusterId: run.clusterId }, meta);
  if (reply.ok) return { requested: true, ...(reply.result ?? {}) };
  if (reply.code === 'SERVICE_UNAVAILABLE' || reply.code === 'TIMEOUT') {
    throw new Error(`a full backup cannot be requested now: ${reply.message}`);
  }
  run.log.warn({ code: reply.code, reason: reply.message }, 'no full backup after the major upgrade');
  return { requested: false, reason: reply.message };
}

/**
 * Step `followers`: each follower re-cloned from the upgraded leader on the new major (its old data
 * removed with it), started and streaming; then the leader's synchronous_standby_names as before.
 */
export async function recloneFollowers(deps: UpgradeDeps, run: OperationRun, params: UpgradeParams, nodes: Checked) {
  if (nodes.followers.length === 0) return { recloned: [] };
  const { clusterId } = run;
  const view = await loadView(deps, clusterId);
  const upstream = await upstreamLeaderOf(deps.runtime, deps.secrets, clusterId, nodes.leader, deps.home);
  const leaderRid = runtimeNodeId(clusterId, nodes.leader);
  const endpoint = await deps.runtime.endpoint(leaderRid);
  const streamingNow = async () =>
    new Set((await nodeStatus(endpoint)).standbys.filter((s) => s.state === 'streaming').map((s) => s.applicationName));
  // One at a time: the other follower keeps serving reads (of the data before the upgrade) meanwhile.
  for (const f of nodes.followers) {
    if ((await streamingNow()).has(slotName(f.nodeId))) continue; // re-cloned by an earlier attempt
    const target = { clusterId, nodeId: f.nodeId, leader: nodes.leader, major: params.toVersion, port: f.port };
    await recloneFollower(deps.runtime, target, await upgradedSetup(deps, view, f.nodeId), upstream);
    await deps.runtime.start(runtimeNodeId(clusterId, f.nodeId));
  }
  const deadline = Date.now() + (deps.streamingTimeoutMs ?? 300_000);
  for (;;) {
    const streaming = await streamingNow();
    if (nodes.followers.every((f) => streaming.has(slotName(f.nodeId)))) break;
    if (Date.now() > deadline) {
      const reason = `the re-cloned followers do not stream from ${nodes.leader} on ${params.toVersion}`;
      throw new OperationFailure('followers', reason);
    }
    await sleep(200);
  }
  await withClient(endpoint, async (q) => {
    await q.query(`ALTER SYSTEM SET synchronous_standby_names = ${pgString(nodes.synchronousStandbyNames)}`);
    await q.query('SELECT pg_reload_conf()');
  });
  return { recloned: nodes.followers.map((f) => f.nodeId), synchronousStandbyNames: nodes.synchronousStandbyNames };
}
