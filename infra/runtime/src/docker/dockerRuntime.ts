import Docker from 'dockerode';
import {
  detachStandby,
  generatePassword,
  openSecretStore,
  promoteStandby,
  quoteLiteral,
  withClient,
  type ExecResult,
} from '@pgfleet/postgres';
import {
  NodeRuntimeError,
  type NodeEndpoint,
  type NodeInfo,
  type NodeRuntime,
  type NodeSpec,
  type NodeStatusReport,
} from '../port.js';
import {
  bridgeName,
  containersOfCluster,
  containersOfNode,
  ensureNetwork,
  execIn,
  IN_CONTAINER,
  isStatus,
  LABEL,
  nodeOfLabels,
  removeNetworkIfUnused,
  safeId,
  volumeName,
} from './containers.js';
import { dockerTool } from './dockerTool.js';
import { networkIsolation } from './isolation.js';
import { notSupported, unsupportedArchive, unsupportedUpgrade } from './unsupported.js';
import {
  controlDataIn,
  createNodeContainer,
  ensureRunning,
  killServer,
  postmasterPid,
  reloadServer,
  startServer,
  stopServer,
} from './nodeContainer.js';
import {
  basebackupIn,
  conninfoFor,
  initdbIn,
  isInitializedIn,
  leaderFrom,
  prepareVolume,
  writeConfigIn,
  writeLeaderPassfileIn,
  writeStandbyIn,
} from './nodeFiles.js';

export interface DockerRuntimeOptions {
  /** The platform's home: the nodes' superuser passwords live in its secret store. */
  home: string;
  /** A dockerode client, or the path of a Docker Engine API unix socket (Docker, or Podman's service). */
  docker: Docker | string;
  /** The node image (`ensureNodeImage`). */
  image: string;
  /** Seconds pg_ctl waits for a start or stop. */
  timeoutSeconds?: number;
  /** Where the driver's warnings go (e.g. no network isolation on this host); default stderr. */
  log?: (line: string) => void;
}

/** Where a node's superuser password is kept (the control plane reaches its node over TCP with it). */
const superuserRef = (nodeId: string) => `runtime/docker/${nodeId}/superuser`;

/**
 * The `docker` driver: one container per node (`pgfleet-{clusterId}-{nodeId}`), its data on a
 * named volume, on the cluster's private network `pgfleet-{clusterId}`, its port published on
 * 127.0.0.1 only; PostgreSQL started, stopped and killed inside it with pg_ctl through exec, as
 * the postgres OS user. It keeps no state in memory: every call finds the node's container by its
 * labels, so a restarted control plane sees the nodes as they are, and the engine's unique
 * container names keep a node from ever getting a second container.
 */
export function createDockerRuntime(options: DockerRuntimeOptions): NodeRuntime {
  const docker = typeof options.docker === 'string' ? new Docker({ socketPath: options.docker }) : options.docker;
  const timeout = options.timeoutSeconds ?? 60;
  const secrets = openSecretStore(options.home);
  const isolation = networkIsolation(docker, options.log ?? ((line) => console.warn(line)));
  /** Start a node's container, its network's isolation made again first (gone after a reboot of the host). */
  const startContainer = async (c: Docker.Container, info: NodeInfo) => {
    await isolation.add(bridgeName(info.clusterId));
    await ensureRunning(c, info);
  };

  const find = async (nodeId: string) => {
    safeId(nodeId, 'nodeId');
    for (const entry of await containersOfNode(docker, nodeId)) {
      const info = nodeOfLabels(entry.Labels);
      if (info) return { c: docker.getContainer(entry.Id), info, running: entry.State === 'running' };
    }
    return undefined;
  };
  const need = async (nodeId: string) => {
    const found = await find(nodeId);
    if (!found) throw new NodeRuntimeError('NODE_NOT_FOUND', `node ${nodeId} does not exist`, { nodeId });
    return found;
  };
  /** The node's container, started when it is not running: every exec needs it up. */
  const up = async (nodeId: string) => {
    const found = await need(nodeId);
    if (!found.running) await startContainer(found.c, found.info);
    return found;
  };
  const subnetOf = async (info: NodeInfo) => (await ensureNetwork(docker, info.clusterId, isolation)).subnet;
  const needInitialized = async (c: Docker.Container, info: NodeInfo) => {
    if (!(await isInitializedIn(docker, c))) {
      const message = `node ${info.nodeId} has no initialized data directory`;
      throw new NodeRuntimeError('NOT_INITIALIZED', message, { nodeId: info.nodeId });
    }
  };
  const superuserPassword = async (nodeId: string): Promise<string> => {
    const ref = superuserRef(nodeId);
    const existing = await secrets.get(ref);
    if (existing) return existing;
    const password = generatePassword();
    await secrets.put(ref, password);
    return password;
  };
  const endpoint = async (nodeId: string, database = 'postgres'): Promise<NodeEndpoint> => {
    const { info } = await need(nodeId);
    const password = await secrets.get(superuserRef(nodeId));
    return { host: '127.0.0.1', port: info.port, user: 'postgres', database, ...(password ? { password } : {}) };
  };

  const runtime: NodeRuntime = {
    async create(spec: NodeSpec): Promise<NodeInfo> {
      safeId(spec.clusterId, 'clusterId');
      safeId(spec.nodeId, 'nodeId');
      if (spec.dataDir !== undefined && spec.dataDir !== IN_CONTAINER.dataDir) {
        const message = `node ${spec.nodeId}: the docker driver keeps data on its volume, not at ${spec.dataDir}`;
        throw new NodeRuntimeError('NOT_SUPPORTED', message, { nodeId: spec.nodeId });
      }
      const same = (info: NodeInfo) =>
        info.clusterId === spec.clusterId && info.major === spec.major && info.port === spec.port;
      const existing = await find(spec.nodeId);
      if (existing) {
        if (same(existing.info)) return existing.info;
        const message = `node ${spec.nodeId} already exists with another cluster, version or port`;
        throw new NodeRuntimeError('NODE_EXISTS', message, { existing: existing.info });
      }
      const { name } = await ensureNetwork(docker, spec.clusterId, isolation);
      try {
        await createNodeContainer(docker, spec, options.image, name);
      } catch (error) {
        if (!isStatus(error, 409) && !/already in use|already exists/i.test((error as Error).message)) throw error;
        const raced = await find(spec.nodeId);
        if (raced && same(raced.info)) return raced.info;
        const message = `a container for node ${spec.nodeId} already exists: ${(error as Error).message}`;
        throw new NodeRuntimeError('NODE_EXISTS', message, { nodeId: spec.nodeId });
      }
      return (await need(spec.nodeId)).info;
    },

    async start(nodeId) {
      const { c, info } = await up(nodeId);
      const running = await postmasterPid(docker, c, info);
      if (running !== undefined) return { pid: running };
      await needInitialized(c, info);
      return { pid: await startServer(docker, c, info, timeout) };
    },

    async stop(nodeId, mode = 'fast') {
      const { c, info, running } = await need(nodeId);
      if (running) await stopServer(docker, c, info, mode, timeout);
    },

    async fence(nodeId) {
      // A fast shutdown seen through: no connection and no write from the request on, and its
      // shutdown checkpoint sent to its standbys before the walsenders exit.
      const { c, info, running } = await need(nodeId);
      if (running) await stopServer(docker, c, info, 'fast', timeout);
      else await startContainer(c, info);
      const checkpoint = (await controlDataIn(docker, c, info))['Latest checkpoint location'];
      if (!checkpoint) throw new NodeRuntimeError('STOP_FAILED', `node ${nodeId} has no checkpoint`, { nodeId });
      return { checkpoint };
    },

    async kill9(nodeId) {
      const { c, info, running } = await need(nodeId);
      if (running) await killServer(docker, c, info);
    },

    async status(nodeId): Promise<NodeStatusReport> {
      const found = await find(nodeId);
      if (!found) return { state: 'missing' };
      const { c, info } = found;
      if (!found.running) return { state: 'stopped', node: info };
      const pid = await postmasterPid(docker, c, info);
      return pid === undefined ? { state: 'stopped', node: info } : { state: 'running', pid, node: info };
    },

    async exec(nodeId, cmd, args, opts = {}): Promise<ExecResult> {
      const { c, info } = await up(nodeId);
      const binDir = `/usr/lib/postgresql/${info.major}/bin`;
      return execIn(docker, c, [cmd, ...args], {
        workingDir: IN_CONTAINER.dataDir,
        ...(opts.input !== undefined ? { input: opts.input } : {}),
        env: {
          PATH: `${binDir}:/usr/local/bin:/usr/bin:/bin`,
          PGDATA: IN_CONTAINER.dataDir,
          PGHOST: IN_CONTAINER.socketDir,
          PGPORT: String(IN_CONTAINER.port),
          PGUSER: 'postgres',
          PGDATABASE: 'postgres',
          ...opts.env,
        },
      });
    },

    async remove(nodeId) {
      const found = await find(nodeId);
      const volumes = await docker.listVolumes({ filters: { label: [`${LABEL.node}=${nodeId}`] } });
      if (found) {
        try {
          await found.c.remove({ force: true });
        } catch (error) {
          if (!isStatus(error, 404)) throw error;
        }
      }
      const names = new Set((volumes.Volumes ?? []).map((v) => v.Name));
      if (found) names.add(volumeName(found.info.clusterId, nodeId));
      for (const name of names) {
        try {
          await docker.getVolume(name).remove();
        } catch (error) {
          if (!isStatus(error, 404)) throw error;
        }
      }
      await secrets.delete(superuserRef(nodeId));
      if (found) await removeNetworkIfUnused(docker, found.info.clusterId, isolation);
    },

    async initialize(nodeId, setup) {
      const { c, info } = await up(nodeId);
      const subnet = await subnetOf(info);
      await prepareVolume(docker, c);
      if (!(await isInitializedIn(docker, c))) await initdbIn(docker, c, info.major, await superuserPassword(nodeId));
      await writeConfigIn(docker, c, info, setup, subnet);
      await reloadServer(docker, c, info);
    },

    async cloneFrom(nodeId, { leader, slotName, ...setup }) {
      const { c, info } = await up(nodeId);
      const subnet = await subnetOf(info);
      const config = { ...setup, clusterName: setup.clusterName ?? slotName };
      if ((await postmasterPid(docker, c, info)) !== undefined && !(await isInitializedIn(docker, c))) {
        throw new Error(`node ${nodeId} runs on a data directory pgfleet did not set up: it is left untouched`);
      }
      await prepareVolume(docker, c);
      if (!(await isInitializedIn(docker, c))) {
        const upstream = leaderFrom(leader, setup.tls !== undefined);
        await basebackupIn(docker, c, info.major, upstream, slotName);
        await writeStandbyIn(docker, c, upstream, slotName, true);
        // A clone has the leader's superuser (and password): the control plane logs in with it.
        const leaderPassword = await secrets.get(superuserRef(await leaderNodeOf(leader.host)));
        if (leaderPassword) await secrets.put(superuserRef(nodeId), leaderPassword);
      }
      await writeConfigIn(docker, c, info, config, subnet);
      await reloadServer(docker, c, info);
    },

    copyStopped: notSupported('copyStopped'),

    async isInitialized(nodeId) {
      const found = await find(nodeId);
      if (!found) return false;
      if (!found.running) await startContainer(found.c, found.info);
      return isInitializedIn(docker, found.c);
    },

    async configure(nodeId, setup) {
      const { c, info } = await up(nodeId);
      await needInitialized(c, info);
      // A follower's cluster_name (its slot name) stays unless the setup names another.
      const current = /^cluster_name = '(.*)'$/m.exec(
        (await execIn(docker, c, ['cat', `${IN_CONTAINER.dataDir}/postgresql.conf`])).stdout,
      )?.[1];
      const clusterName = setup.clusterName ?? current;
      await writeConfigIn(docker, c, info, { ...setup, ...(clusterName ? { clusterName } : {}) }, await subnetOf(info));
      await reloadServer(docker, c, info);
    },

    async follow(nodeId, leader, slotName) {
      await pointAt(nodeId, leader, slotName, true);
    },

    async repoint(nodeId, leader, slotName) {
      await pointAt(nodeId, leader, slotName, false);
    },

    async detach(nodeId) {
      return { receivedLsn: await detachStandby(await endpoint(nodeId)) };
    },

    rewind: notSupported('rewind'),

    async reload(nodeId) {
      const { c, info } = await up(nodeId);
      await reloadServer(docker, c, info);
    },

    async promote(nodeId) {
      await promoteStandby(await endpoint(nodeId));
    },

    async controlData(nodeId) {
      const { c, info } = await up(nodeId);
      return controlDataIn(docker, c, info);
    },

    endpoint,

    async peerAddress(nodeId) {
      const { c } = await need(nodeId);
      // The container's name, which the cluster network's DNS resolves for its other containers.
      const name = (await c.inspect()).Name.replace(/^\//, '');
      return { host: name, port: IN_CONTAINER.port };
    },

    runTool(nodeId, tool, args, opts = {}) {
      return dockerTool(docker, () => up(nodeId), tool, args, opts);
    },

    async list(clusterId) {
      safeId(clusterId, 'clusterId');
      const nodes = [];
      for (const entry of await containersOfCluster(docker, clusterId)) {
        const info = nodeOfLabels(entry.Labels);
        if (!info) continue;
        const pid =
          entry.State === 'running' ? await postmasterPid(docker, docker.getContainer(entry.Id), info) : undefined;
        nodes.push(
          pid === undefined ? { ...info, state: 'stopped' as const } : { ...info, state: 'running' as const, pid },
        );
      }
      return nodes.sort((a, b) => a.nodeId.localeCompare(b.nodeId));
    },

    archive: unsupportedArchive(),
    majorUpgrade: unsupportedUpgrade(),
  };

  /** The node a peer address names (`pgfleet-{clusterId}-{nodeId}`), from its container's labels. */
  async function leaderNodeOf(host: string): Promise<string> {
    try {
      const labels = (await docker.getContainer(host).inspect()).Config.Labels;
      return nodeOfLabels(labels)?.nodeId ?? host;
    } catch {
      return host;
    }
  }

  /**
   * Point the node at `leader`: a running standby by ALTER SYSTEM and a reload, a stopped node
   * through its files (standby.signal when it must become a standby). A running leader is refused.
   */
  async function pointAt(nodeId: string, leader: Parameters<NodeRuntime['follow']>[1], slot: string, standby: boolean) {
    const { c, info } = await up(nodeId);
    await needInitialized(c, info);
    const hasTls = (await execIn(docker, c, ['test', '-f', `${IN_CONTAINER.tlsDir}/ca.crt`])).code === 0;
    const upstream = leaderFrom(leader, hasTls);
    if ((await postmasterPid(docker, c, info)) === undefined) {
      await writeStandbyIn(docker, c, upstream, slot, standby);
      return;
    }
    await withClient(await endpoint(nodeId), async (q) => {
      const { rec } = (await q.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec')).rows[0]!;
      if (!rec) throw new Error(`node ${nodeId} is a leader, not a standby`);
      await writeLeaderPassfileIn(docker, c, upstream);
      await q.query(`ALTER SYSTEM SET primary_conninfo = ${quoteLiteral(conninfoFor(upstream, slot))}`);
      await q.query(`ALTER SYSTEM SET primary_slot_name = ${quoteLiteral(slot)}`);
      await q.query('SELECT pg_reload_conf()');
    });
  }

  return runtime;
}
