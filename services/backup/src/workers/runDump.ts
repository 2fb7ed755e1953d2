import { findPlan, runtimeNodeId } from '@pgfleet/contracts';
import type { PartialBackup, StoredBackup } from '@pgfleet/backupstore';
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
 * worker ever gets past this step), have `pg_dump --format=custom` of the app database (run by
 * the node's runtime, logged in as the database's owner) write the backup's file directly (its
 * standard output, not piped through here), hash it once written, then record BackupCompleted or
 * BackupFailed. pg_dump is started meanwhile, but its file is kept only once BackupStarted is
 * recorded on its node.
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
  // is recorded (its connection and snapshot take about as long); its file is kept only once
  // BackupStarted names that node, and it is killed otherwise.
  const likely = likelyDumpNode(cluster, plan.backups.onFollower);
  const start = (nodeId: string) => startDump(deps, clusterId, backupId, nodeId, login, options.signal);
  const early = likely ? start(likely.nodeId) : Promise.resolve(undefined);
  early.catch(() => undefined); // its failure is handled below, after the choice
  let dump: Dump | undefined;
  try {
    const probe = options.probe ?? probeNode(deps.runtime);
    let choice: Awaited<ReturnType<typeof chooseDumpNode>>;
    try {
      choice = await chooseDumpNode(clusterId, cluster, plan.backups.onFollower, probe);
      dump = await early;
      if (!choice) return await fail('no node of the cluster is running');
      if (dump?.nodeId !== choice.node.nodeId) {
        await dump?.discard();
        dump = await start(choice.node.nodeId);
      }
    } catch (error) {
      if (options.signal?.aborted) throw error;
      return await fail(messageOf(error)); // e.g. the backup's file could not be opened
    }
    const { node, onLeaderReason } = choice;

    const started = await recordOutcome(deps.store, clusterId, {
      type: 'StartBackup',
      backupId,
      node: node.nodeId,
      ...(onLeaderReason ? { onLeaderReason } : {}),
    });
    if (!started.ok) return { status: 'skipped', backupId };
    log.info({ node: node.nodeId, onLeaderReason }, 'backup started');

    let stored: StoredBackup;
    try {
      stored = await finishDump(deps, backupId, dump, options.signal);
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
    // None is left running, whatever happened (a no-op once it exited), nor an unfinished file open.
    dump ??= await early.catch(() => undefined);
    dump?.kill();
    await dump?.partial.abort();
  }
}

/** A `pg_dump --format=custom` of the app database running on one node, writing the backup's partial file. */
interface Dump {
  nodeId: string;
  startedAt: number;
  partial: PartialBackup;
  /** Once the tool exited: undefined on success, else its failure (never rejects). */
  exited: Promise<unknown>;
  kill(): void;
  /** Kill it and remove what it wrote (it ran on a node that was not chosen). */
  discard(): Promise<void>;
}

/**
 * Start pg_dump on a node (run by the node's runtime) as the database's owner, its standard output
 * going straight into the backup's partial file; aborting `signal` kills it.
 */
async function startDump(
  deps: BackupDeps,
  clusterId: string,
  backupId: string,
  nodeId: string,
  login: ToolLogin,
  signal?: AbortSignal,
): Promise<Dump> {
  const startedAt = Date.now();
  const partial = await deps.files.begin(clusterId, backupId);
  const runtimeId = runtimeNodeId(clusterId, nodeId);
  const options = { database: APP_DATABASE, login, output: partial.fd };
  const tool = deps.runtime.runTool(runtimeId, 'pg_dump', ['--format=custom'], options);
  tool.stdout.resume(); // empty: the bytes go to the file
  // The exit is awaited once the start is recorded; until then its failure must not be an unhandled rejection.
  const exited = tool.done.then(
    () => undefined,
    (error: unknown) => error ?? new Error('pg_dump failed'),
  );
  const kill = () => tool.kill();
  signal?.addEventListener('abort', kill, { once: true });
  void exited.then(() => signal?.removeEventListener('abort', kill));
  const discard = async () => {
    kill();
    await exited;
    await partial.abort();
  };
  return { nodeId, startedAt, partial, exited, kill, discard };
}

/** How often the bytes written so far are read for `backup create`'s progress. */
const PROGRESS_EVERY_MS = 500;

/**
 * Wait for a started dump to exit, showing its progress meanwhile, then make its file the backup's
 * (size and sha256 read from it). Rejects when the tool fails or the signal aborted.
 */
async function finishDump(deps: BackupDeps, backupId: string, dump: Dump, signal?: AbortSignal): Promise<StoredBackup> {
  deps.progress?.begin(backupId, dump.startedAt);
  const progress = setInterval(() => {
    dump.partial.bytes().then(
      (bytes) => deps.progress?.update(backupId, bytes),
      () => undefined,
    );
  }, PROGRESS_EVERY_MS);
  let failure: unknown;
  try {
    failure = await dump.exited;
  } finally {
    clearInterval(progress);
  }
  signal?.throwIfAborted();
  if (failure !== undefined) throw failure;
  return dump.partial.finish();
}
