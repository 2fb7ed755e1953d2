import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  childEnv,
  cloneFollower,
  dataRoot,
  ensureOwnedDir,
  ensureSocketDir,
  isNodeInitialized,
  CLONED_MARKER,
  copyStoppedNode,
  nodeCaFile,
  detachStandby,
  withClient,
  rewindNode,
  pgBackRestPaths,
  promoteStandby,
  readControlData,
  readNodeSettings,
  repointStandby,
  runAsPostgres,
  toolchain,
  verifiedLeader,
  withFileLock,
  writeNodeConfig,
  writeStandbySettings,
  type ExecResult,
} from '@pgfleet/postgres';
import {
  NodeRuntimeError,
  type NodeEndpoint,
  type NodeInfo,
  type NodeRuntime,
  type NodeSpec,
  type NodeStatusReport,
  type StopMode,
  type UpstreamLeader,
} from '../port.js';
import { processArchive } from './archive.js';
import { Layout, sameSpec } from './layout.js';
import { processMajorUpgrade } from './majorUpgrade.js';
import { fenceNode } from './fence.js';
import { configOf, endpointOf } from './nodeSetup.js';
import { nodeStorage } from './nodeStorage.js';
import { killToolsOn, livePostmaster, waitForNoProcesses, whyNotStarted } from './postmaster.js';
import { CLIENT_TOOLS, failedTool, spawnTool } from './runTool.js';

export interface ProcessRuntimeOptions {
  /**
   * The platform's home ($PGFLEET_HOME): nodes live under `{data root}/clusters`, the data root
   * being the home itself unless the postgres OS user cannot reach it (`dataRoot` of @pgfleet/postgres).
   */
  home: string;
  /** Seconds pg_ctl waits for a start or stop. */
  timeoutSeconds?: number;
  /**
   * Keep one spare initialized data directory per major version in `{data root}/spares`, made in
   * the background at low priority: `initialize` renames it into place instead of running initdb,
   * then makes the next one. Off by default, so a runtime in a test or a tool runs no background initdb.
   */
  spares?: boolean;
  /** The pgBackRest repository of the clusters' archives; default PGFLEET_PITR_REPO, else `{data root}/pitr/repo`. */
  archiveRepo?: string;
}

/**
 * The `process` driver: each node a real postgres server on 127.0.0.1, run as the postgres OS
 * user with pg_ctl (detached, so servers outlive the control plane). It keeps no state in memory:
 * every call reads node.json and postmaster.pid (checked against /proc), so a restarted control
 * plane, or a second instance over the same home, sees the running servers and never starts a
 * second one on a data directory.
 */
export function createProcessRuntime(options: ProcessRuntimeOptions): NodeRuntime {
  const root = dataRoot(options.home);
  const layout = new Layout(root);
  const timeout = String(options.timeoutSeconds ?? 60);
  const storage = nodeStorage(root, options.spares ?? false);
  // Every service's runtime must name the same repository: nodes archive where the pitr service reads.
  const repo = options.archiveRepo ?? process.env.PGFLEET_PITR_REPO;
  const pitr = pgBackRestPaths(root, repo ? resolve(repo) : undefined);

  const need = (nodeId: string): NodeInfo => {
    const info = layout.find(nodeId);
    if (!info) throw new NodeRuntimeError('NODE_NOT_FOUND', `node ${nodeId} does not exist`, { nodeId });
    return info;
  };

  const pgCtl = (info: NodeInfo, args: string[]) =>
    runAsPostgres(toolchain(info.major).bin('pg_ctl'), ['-D', info.dataDir, ...args]);

  const locked = <T>(info: NodeInfo, fn: () => Promise<T>) => withFileLock(layout.lockFile(info), fn);

  /** SIGHUP the running postmaster (what pg_reload_conf does); a stopped node reads its files at start. */
  const reloadUnlocked = (info: NodeInfo): void => {
    const pid = livePostmaster(info.dataDir);
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGHUP');
    } catch {
      /* it stopped meanwhile */
    }
  };

  /** Fill the data directory (initdb or clone) under the node lock, then have a running server reread it. */
  const fillStorage = (info: NodeInfo, fill: () => Promise<unknown>): Promise<void> =>
    locked(info, async () => {
      if (livePostmaster(info.dataDir) !== undefined && !isNodeInitialized(info.dataDir)) {
        throw new Error(`node ${info.nodeId} runs on a data directory pgfleet did not set up: it is left untouched`);
      }
      await fill();
      reloadUnlocked(info);
    });

  const needInitialized = (info: NodeInfo): void => {
    if (!isNodeInitialized(info.dataDir)) {
      const message = `node ${info.nodeId} has no initialized data directory at ${info.dataDir}`;
      throw new NodeRuntimeError('NOT_INITIALIZED', message, { nodeId: info.nodeId });
    }
  };

  /**
   * Point the node at `leader`: a running standby by ALTER SYSTEM and a reload, a stopped node
   * through its files (and standby.signal when it must become a standby). The node verifies the
   * leader against its own CA copy when it has TLS material.
   */
  const pointAt = (info: NodeInfo, leader: UpstreamLeader, slotName: string, standby: boolean) =>
    locked(info, async () => {
      needInitialized(info);
      const target = { leader: verifiedLeader(leader, nodeCaFile(info.dataDir)), slotName };
      if (livePostmaster(info.dataDir) !== undefined) await repointStandby(endpointOf(info), info.dataDir, target);
      else writeStandbySettings(info.dataDir, target, { standby });
    });

  const stopUnlocked = async (info: NodeInfo, mode: StopMode): Promise<void> => {
    const { nodeId } = info;
    if (livePostmaster(info.dataDir) === undefined) return;
    const r = await pgCtl(info, ['-m', mode, '-w', '-t', timeout, 'stop']);
    if (r.code !== 0 && livePostmaster(info.dataDir) !== undefined) {
      throw new NodeRuntimeError('STOP_FAILED', `node ${nodeId} did not stop: ${(r.stderr || r.stdout).trim()}`, {
        nodeId,
      });
    }
    await waitForNoProcesses(info.dataDir);
  };

  const stop = async (nodeId: string, mode: StopMode = 'fast'): Promise<void> => {
    const info = need(nodeId);
    await locked(info, () => stopUnlocked(info, mode));
  };

  const startUnlocked = async (info: NodeInfo): Promise<{ pid: number }> => {
    const { nodeId } = info;
    const running = livePostmaster(info.dataDir);
    if (running !== undefined) return { pid: running };
    if (!isNodeInitialized(info.dataDir)) {
      const message = `node ${nodeId} has no initialized data directory at ${info.dataDir}`;
      throw new NodeRuntimeError('NOT_INITIALIZED', message, { nodeId });
    }
    // Under the node lock no other runtime starts this node, so postgres processes without a live
    // postmaster are backends orphaned by a killed one: they keep shared memory busy, let them go.
    await waitForNoProcesses(info.dataDir);
    // Lock files left behind are stale; their pid may still name an unreaped zombie, which
    // PostgreSQL would take for a live server.
    const socketDir = ensureSocketDir(info.dataDir);
    rmSync(join(info.dataDir, 'postmaster.pid'), { force: true });
    for (const f of readdirSync(socketDir)) if (f.startsWith('.s.PGSQL.')) rmSync(join(socketDir, f), { force: true });
    const log = layout.pgCtlLog(info);
    const r = await pgCtl(info, ['-l', log, '-w', '-t', timeout, 'start']);
    const pid = livePostmaster(info.dataDir);
    if (pid !== undefined) {
      // A clone's first start is over: from now on its restore_command reads the archive.
      rmSync(join(info.dataDir, CLONED_MARKER), { force: true });
      return { pid };
    }
    const reason = whyNotStarted(log, info.dataDir, r.stderr || r.stdout);
    throw new NodeRuntimeError('START_FAILED', `node ${nodeId} failed to start: ${reason}`, {
      nodeId,
      port: info.port,
    });
  };

  return {
    async create(spec: NodeSpec): Promise<NodeInfo> {
      const info = layout.infoOf(spec);
      const existing = layout.find(spec.nodeId);
      if (existing) {
        if (sameSpec(existing, spec)) return existing;
        throw new NodeRuntimeError(
          'NODE_EXISTS',
          `node ${spec.nodeId} already exists with another cluster, version, port or data directory`,
          { existing },
        );
      }
      // The postgres OS user must reach the data dir through these directories.
      for (const dir of [layout.clustersDir, layout.clusterDir(spec.clusterId)]) ensureOwnedDir(dir, 0o711);
      ensureOwnedDir(layout.nodeDir(spec.clusterId, spec.nodeId));
      ensureOwnedDir(info.dataDir);
      layout.write(info);
      return info;
    },

    async start(nodeId: string): Promise<{ pid: number }> {
      const info = need(nodeId);
      // Fast path without the lock: a running node stays as it is.
      const running = livePostmaster(info.dataDir);
      if (running !== undefined) return { pid: running };
      return locked(info, () => startUnlocked(info));
    },

    stop,

    async kill9(nodeId: string): Promise<void> {
      const info = need(nodeId);
      const pid = livePostmaster(info.dataDir);
      if (pid === undefined) return;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        return;
      }
      while (livePostmaster(info.dataDir) === pid) await new Promise((r) => setTimeout(r, 20));
    },

    async status(nodeId: string): Promise<NodeStatusReport> {
      const info = layout.find(nodeId);
      if (!info || !existsSync(info.dataDir)) return info ? { state: 'missing', node: info } : { state: 'missing' };
      const pid = livePostmaster(info.dataDir);
      return pid === undefined ? { state: 'stopped', node: info } : { state: 'running', pid, node: info };
    },

    async exec(nodeId, cmd, args, opts = {}): Promise<ExecResult> {
      const info = need(nodeId);
      const tc = toolchain(info.major);
      const bin = !cmd.includes('/') && existsSync(join(tc.binDir, cmd)) ? join(tc.binDir, cmd) : cmd;
      return runAsPostgres(bin, args, {
        cwd: info.dataDir,
        input: opts.input,
        env: {
          PATH: `${tc.binDir}:${childEnv().PATH}`,
          PGDATA: info.dataDir,
          PGHOST: info.socketDir,
          PGPORT: String(info.port),
          PGUSER: 'postgres',
          PGDATABASE: 'postgres',
          ...opts.env,
        },
      });
    },

    async remove(nodeId: string): Promise<void> {
      const info = layout.find(nodeId);
      if (!info) return;
      const nodeDir = layout.nodeDir(info.clusterId, info.nodeId);
      await locked(info, async () => {
        killToolsOn(nodeDir); // what a killed service left running there
        await stopUnlocked(info, 'immediate');
        await waitForNoProcesses(info.dataDir);
        rmSync(info.dataDir, { recursive: true, force: true });
      });
      if (info.socketDir !== info.dataDir) rmSync(info.socketDir, { recursive: true, force: true });
      rmSync(nodeDir, { recursive: true, force: true });
      try {
        rmdirSync(dirname(nodeDir)); // the cluster dir, once its last node is gone
      } catch {
        /* other nodes remain */
      }
    },

    async initialize(nodeId, setup): Promise<void> {
      const info = need(nodeId);
      const config = configOf(info, setup, pitr);
      try {
        await fillStorage(info, () => storage.init(info, config));
      } finally {
        storage.refill(info.major);
      }
    },

    async cloneFrom(nodeId, { leader, slotName, ...setup }): Promise<void> {
      const info = need(nodeId);
      const config = configOf(info, setup, pitr);
      // Replication verifies the leader's certificate against the cluster CA the node was given.
      const upstream = verifiedLeader(leader, setup.tls?.caFile);
      await fillStorage(info, () => cloneFollower({ ...config, leader: upstream, slotName }));
    },

    async copyStopped(nodeId, { sourceNodeId, leader, slotName, ...setup }): Promise<void> {
      const info = need(nodeId);
      const source = need(sourceNodeId);
      if (livePostmaster(source.dataDir) !== undefined) {
        const message = `node ${sourceNodeId} runs: a follower is copied only from a stopped, new leader`;
        throw new NodeRuntimeError('STOP_FAILED', message, { nodeId, sourceNodeId });
      }
      const config = configOf(info, setup, pitr);
      const upstream = verifiedLeader(leader, setup.tls?.caFile);
      const input = { ...config, leader: upstream, slotName, sourceDataDir: source.dataDir };
      await fillStorage(info, () => copyStoppedNode(input));
    },

    async isInitialized(nodeId): Promise<boolean> {
      const info = layout.find(nodeId);
      return info !== undefined && isNodeInitialized(info.dataDir);
    },

    async configure(nodeId, setup): Promise<void> {
      const info = need(nodeId);
      // A follower's cluster_name (its slot name) stays unless the setup names another.
      const clusterName = setup.clusterName ?? readNodeSettings(info.dataDir).cluster_name;
      const config = configOf(info, { ...setup, ...(clusterName ? { clusterName } : {}) }, pitr);
      await locked(info, async () => {
        needInitialized(info);
        writeNodeConfig(config);
        reloadUnlocked(info);
      });
    },

    async follow(nodeId, leader, slotName): Promise<void> {
      await pointAt(need(nodeId), leader, slotName, true);
    },

    async repoint(nodeId, leader, slotName): Promise<void> {
      await pointAt(need(nodeId), leader, slotName, false);
    },

    async detach(nodeId) {
      return { receivedLsn: await detachStandby(endpointOf(need(nodeId))) };
    },

    async rewind(nodeId, sourceNodeId): Promise<void> {
      const info = need(nodeId);
      const source = endpointOf(need(sourceNodeId));
      const conninfo = `host=${source.host} port=${source.port} user=${source.user} dbname=${source.database}`;
      await locked(info, async () => {
        needInitialized(info);
        if (livePostmaster(info.dataDir) !== undefined) {
          throw new NodeRuntimeError('STOP_FAILED', `node ${nodeId} runs: stop it before a rewind`, { nodeId });
        }
        await waitForNoProcesses(info.dataDir);
        rmSync(join(info.dataDir, 'postmaster.pid'), { force: true });
        // pg_rewind reads the source's timeline from its control file, which a just-promoted
        // server updates only at its first checkpoint after the promotion.
        await withClient(source, (q) => q.query('CHECKPOINT'));
        await rewindNode({ major: info.major, dataDir: info.dataDir, source: conninfo });
      });
    },

    async reload(nodeId): Promise<void> {
      reloadUnlocked(need(nodeId));
    },

    async promote(nodeId): Promise<void> {
      await promoteStandby(endpointOf(need(nodeId)));
    },

    fence: (nodeId) => fenceNode(need(nodeId), Number(timeout) * 1000),
    async controlData(nodeId): Promise<Record<string, string>> {
      const info = need(nodeId);
      if (!existsSync(join(info.dataDir, 'global', 'pg_control'))) {
        throw new NodeRuntimeError('NOT_INITIALIZED', `node ${nodeId} has no control file yet`, { nodeId });
      }
      return readControlData(info.major, info.dataDir);
    },

    async endpoint(nodeId, database = 'postgres'): Promise<NodeEndpoint> {
      return endpointOf(need(nodeId), database);
    },

    async peerAddress(nodeId) {
      return { host: '127.0.0.1', port: need(nodeId).port };
    },

    runTool(nodeId, tool, args, options = {}) {
      try {
        const info = need(nodeId);
        if (!CLIENT_TOOLS.has(tool)) throw new Error(`${tool} is not a PostgreSQL client tool a node runs`);
        const bin = join(toolchain(info.major).binDir, tool);
        return spawnTool({ bin, endpoint: endpointOf(info), privateDir: info.socketDir }, args, options);
      } catch (error) {
        return failedTool(error as Error);
      }
    },

    async list(clusterId: string) {
      return layout.inCluster(clusterId).map((info) => {
        const pid = existsSync(info.dataDir) ? livePostmaster(info.dataDir) : undefined;
        const state = !existsSync(info.dataDir)
          ? ('missing' as const)
          : pid === undefined
            ? ('stopped' as const)
            : ('running' as const);
        return pid === undefined ? { ...info, state } : { ...info, state, pid };
      });
    },

    warm: (major) => storage.warm(major),

    archive: processArchive({ paths: pitr, need, locked, startUnlocked, config: (i, s) => configOf(i, s, pitr) }),
    majorUpgrade: processMajorUpgrade({ layout, need, locked, config: (i, s) => configOf(i, s, pitr) }),
  };
}
