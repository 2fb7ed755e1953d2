import { EXTENSIONS, ExtensionName, ParameterChange, preloadLibrariesWith, runtimeNodeId } from '@pgfleet/contracts';
import { OperationFailure, type OperationExecutor } from '@pgfleet/kit';
import { withClient } from '@pgfleet/postgres';
import { z } from 'zod';
import type { ExtensionOutcome } from '../domain/extensions.js';
import { applyParameters } from './applyParameters.js';
import { APP_DATABASE, type ReconcileDeps } from './reconcile.js';
import { loadCluster, recordOutcome } from './record.js';
import { failingAtStep } from './rollingRestart.js';

const EnableParams = z.object({ extension: ExtensionName, changes: z.array(ParameterChange).default([]) });
const DisableParams = z.object({ extension: ExtensionName });
const PRELOAD = 'shared_preload_libraries';

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Run `sql` as superuser in the app database of the cluster's current leader; the extension's version after it. */
async function onLeader(deps: ReconcileDeps, clusterId: string, extension: string, sql: string) {
  const { view } = await loadCluster(deps.store, clusterId);
  const leader = view.leader;
  if (!leader) throw new Error(`cluster ${view.name} has no leader`);
  const endpoint = await deps.runtime.endpoint(runtimeNodeId(clusterId, leader), APP_DATABASE);
  return withClient(endpoint, async (q) => {
    await q.query(sql);
    const r = await q.query<{ v: string }>('SELECT extversion AS v FROM pg_extension WHERE extname = $1', [extension]);
    return { leader, version: r.rows[0]?.v ?? null };
  });
}

/**
 * What `applyParameters` applies for `extension`: shared_preload_libraries when its library is
 * preloaded (the change its decision recorded, else the value now), nothing otherwise. Applied even
 * when the library was already listed: a node not restarted since (an earlier operation failed
 * midway) still says pending_restart, and only then is anything restarted.
 */
async function preloadOf(
  deps: ReconcileDeps,
  clusterId: string,
  extension: string,
  enable: boolean,
  recorded: ParameterChange[],
): Promise<ParameterChange[]> {
  if (!EXTENSIONS[extension]?.preload) return [];
  if (recorded.length > 0) return recorded;
  const now = (await loadCluster(deps.store, clusterId)).view.parameters[PRELOAD] ?? null;
  return [{ name: PRELOAD, old: enable ? now : preloadLibrariesWith(now, extension, true), new: now }];
}

/** Record an outcome through the cluster's decider; a refusal fails the operation at `step` with its sentence. */
async function record(deps: ReconcileDeps, clusterId: string, step: string, command: ExtensionOutcome) {
  const reply = await recordOutcome(deps.store, clusterId, command);
  if (!reply.ok) throw new OperationFailure(step, reply.message);
}

/**
 * The extension-enable operation (`pgfleet extension enable`):
 * 1. An extension to preload: shared_preload_libraries (its ClusterParametersChanged is already in
 *    the cluster view) applied by `applyParameters`: every node's configuration written and reloaded
 *    (`apply`), then restarted one by one (`restart-{node}`, on Business a switchover, `verify`).
 * 2. `create`: `CREATE EXTENSION IF NOT EXISTS` as superuser in the app database of the leader (the
 *    followers get it by replication), then ExtensionEnabled {extension, version} through the decider.
 * Every step is idempotent: a resumed operation skips the completed ones.
 */
export function extensionEnableExecutor(deps: ReconcileDeps): OperationExecutor {
  return async (run) => {
    const params = EnableParams.safeParse(run.operation.params);
    if (!params.success) throw new OperationFailure('create', 'the operation names no allow-listed extension');
    const { extension } = params.data;
    const step = failingAtStep(run);
    const changes = await preloadOf(deps, run.clusterId, extension, true, params.data.changes);
    const applied = changes.length > 0 ? await applyParameters(deps, run, step, changes) : { restarted: false };
    const created = await step('create', async () => {
      const sql = `CREATE EXTENSION IF NOT EXISTS ${ident(extension)}`;
      const done = await onLeader(deps, run.clusterId, extension, sql);
      if (!done.version) throw new Error(`${extension} is not in pg_extension after CREATE EXTENSION`);
      return done;
    });
    const version = String(created.version);
    await record(deps, run.clusterId, 'create', { type: 'RecordExtensionEnabled', extension, version });
    return { extension, version, leader: created.leader, ...applied };
  };
}

/**
 * The extension-disable operation (`pgfleet extension disable`):
 * 1. `drop`: `DROP EXTENSION IF EXISTS` on the leader (never CASCADE: an object of the application
 *    that uses it, e.g. a citext column, fails the step with PostgreSQL's reason, nothing changed).
 * 2. `record`: ExtensionDisabled, and for a preloaded library its removal from
 *    shared_preload_libraries (ClusterParametersChanged), through the decider in one append.
 * 3. A preloaded library: `applyParameters` (every node's configuration, a rolling restart), so
 *    disabling pg_stat_statements also frees its shared memory.
 */
export function extensionDisableExecutor(deps: ReconcileDeps): OperationExecutor {
  return async (run) => {
    const params = DisableParams.safeParse(run.operation.params);
    if (!params.success) throw new OperationFailure('drop', 'the operation names no allow-listed extension');
    const { extension } = params.data;
    const step = failingAtStep(run);
    await step('drop', () => onLeader(deps, run.clusterId, extension, `DROP EXTENSION IF EXISTS ${ident(extension)}`));
    await step('record', async () => {
      await record(deps, run.clusterId, 'record', { type: 'RecordExtensionDisabled', extension });
      return {};
    });
    const changes = await preloadOf(deps, run.clusterId, extension, false, []);
    const applied = changes.length > 0 ? await applyParameters(deps, run, step, changes) : { restarted: false };
    return { extension, ...applied };
  };
}
