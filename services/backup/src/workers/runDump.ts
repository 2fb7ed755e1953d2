import type { Readable } from 'node:stream';
import { findPlan, runtimeNodeId } from '@pgfleet/contracts';
import type { StoredBackup } from '@pgfleet/backupstore';
import { findBackup, type BackupsState } from '../domain/backups.js';
import type { ToolLogin } from '@pgfleet/runtime';
import {
  APP_DATABASE,
  chooseDumpNode,
  likelyDumpNode,
  loadCluster,
  ownerLogin,
  probeNode,
  type NodeProbe,
} from './cluster.js';
import type { BackupDeps } from './deps.js';
import { gatherChunks } from './gather.js';
import { loadBackups, recordOutcome } from './record.js';

export type DumpOutcome =
  | { status: 'completed'; backupId: string; node: string; size: number; sha256: string; durationMs: number }
  | { status: 'failed'; backupId: string; reason: string }
  /** Not pending any more (another worker took it, or it was already done). */
  | { status: 'skipped'; backupId: string };

export interface RunDumpOptions {
  /** Aborting stops the dump as a crash would: nothing more is recorded (resume finds it). */
  signal?: AbortSignal;
  probe?: NodeProbe;
  /** The backups stream as the caller just read it (else it is read here). */
  read?: BackupsState;
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Take one requested backup: choose the node (a healthy follower on plans that want it, else
 * the leader with the reason), record BackupStarted (with the expected version: only one
 * worker ever gets past this step), stream `pg_dump --format=custom` of the app database
 * (run by the node's runtime, logged in as the database's owner) into the backup store while
 * hashing, then record BackupCompleted or BackupFailed. pg_dump is started meanwhile, but nothing of it is stored
 * before BackupStarted is recorded on its node.
 */
export async function runDump(
  deps: BackupDeps,
  clusterId: string,
  backupId: string,
  options: RunDumpOptions = {},
): Promise<DumpOutcome> {
  // Both streams at once: the cluster is read while the backup is checked to be still requested.
  const [backups, cluster] = await Promise.all([
    options.read ?? loadBackups(deps.store, clusterId),
    loadCluster(deps.store, clusterId),
  ]);
  if (findBackup(backups, backupId)?.status !== 'requested') return { status: 'skipped', backupId };
  const log = deps.log.child({ clusterId, backupId });

  const fail = async (reason: string): Promise<DumpOutcome> => {
    await deps.files.delete(clusterId, backupId);
    await recordOutcome(deps.store, clusterId, { type: 'FailBackup', backupId, reason });
    log.warn({ reason }, 'backup failed');
    return { status: 'failed', backupId, reason };
  };

  const plan = cluster.plan ? findPlan(cluster.plan) : undefined;
  if (cluster.status !== 'ready' || !plan) return fail(`cluster is ${cluster.status}`);
  let login: ToolLogin;
  try {
    login = await ownerLogin(deps.secrets, clusterId, cluster);
  } catch (error) {
    return fail(messageOf(error));
  }
  // pg_dump starts on the node it will most likely run on while the nodes are probed and its start
  // is recorded (its connection and snapshot take about as long); its output is stored only once
  // BackupStarted names that node, and it is killed otherwise.
  const likely = likelyDumpNode(cluster, plan.backups.onFollower);
  let dump = likely && startDump(deps, clusterId, likely.nodeId, login, options.signal);
  try {
    const probe = options.probe ?? probeNode(deps.runtime);
    const choice = await chooseDumpNode(clusterId, cluster, plan.backups.onFollower, probe);
    if (!choice) return await fail('no node of the cluster is running');
    const { node, onLeaderReason } = choice;
    if (dump?.nodeId !== node.nodeId) {
      dump?.kill();
      dump = startDump(deps, clusterId, node.nodeId, login, options.signal);
    }

    const started = await recordOutcome(deps.store, clusterId, {
      type: 'StartBackup',
      backupId,
      node: node.nodeId,
      ...(onLeaderReason ? { onLeaderReason } : {}),
    });
    if (!started.ok) return { status: 'skipped', backupId };
    log.info({ node: node.nodeId, onLeaderReason }, 'backup started');

    deps.progress?.begin(backupId, dump.startedAt);
    let stored: StoredBackup;
    try {
      stored = await storeDump(deps, clusterId, backupId, dump, options.signal);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      return await fail(messageOf(error));
    }
    const durationMs = Date.now() - dump.startedAt;
    const complete = { type: 'CompleteBackup', backupId, ...stored, durationMs } as const;
    const done = await recordOutcome(deps.store, clusterId, complete);
    if (!done.ok) {
      // Someone marked it failed meanwhile (a resume that thought this worker dead): its file must not stay.
      await deps.files.delete(clusterId, backupId);
      return { status: 'skipped', backupId };
    }
    log.info({ size: stored.size, durationMs }, 'backup completed');
    return { status: 'completed', backupId, node: node.nodeId, ...stored, durationMs };
  } finally {
    deps.progress?.end(backupId);
    dump?.kill(); // none is left running, whatever happened (a no-op once it exited)
  }
}

/** A `pg_dump --format=custom` of the app database running on one node, its output not read yet. */
interface Dump {
  nodeId: string;
  startedAt: number;
  stdout: Readable;
  /** Once the tool exited: undefined on success, else its failure (never rejects). */
  exited: Promise<unknown>;
  kill(): void;
}

/** Start pg_dump on a node (run by the node's runtime) as the database's owner; aborting `signal` kills it. */
function startDump(deps: BackupDeps, clusterId: string, nodeId: string, login: ToolLogin, signal?: AbortSignal): Dump {
  const startedAt = Date.now();
  const runtimeId = runtimeNodeId(clusterId, nodeId);
  const options = { database: APP_DATABASE, login };
  const tool = deps.runtime.runTool(runtimeId, 'pg_dump', ['--format=custom'], options);
  // The exit is awaited after the stream; until then its failure must not be an unhandled rejection.
  const exited = tool.done.then(
    () => undefined,
    (error: unknown) => error ?? new Error('pg_dump failed'),
  );
  const kill = () => tool.kill();
  signal?.addEventListener('abort', kill, { once: true });
  void exited.then(() => signal?.removeEventListener('abort', kill));
  return { nodeId, startedAt, stdout: tool.stdout, exited, kill };
}

/**
 * Stream a started dump into the backup store (gathered in 64 kB pieces). Rejects when the tool
 * fails (its stdout errors) or the write fails.
 */
async function storeDump(
  deps: BackupDeps,
  clusterId: string,
  backupId: string,
  dump: Dump,
  signal?: AbortSignal,
): Promise<StoredBackup> {
  const stored = await deps.files.put(clusterId, backupId, gatherChunks(dump.stdout), {
    onProgress: (bytes) => deps.progress?.update(backupId, bytes),
    ...(signal ? { signal } : {}),
  });
  const failure = await dump.exited;
  if (failure !== undefined) throw failure;
  return stored;
}
