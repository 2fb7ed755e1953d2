import { nodeHostName } from '@pgfleet/contracts';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { dockerClient } from './dockerClient.js';
import {
  detachStandby,
  generatePassword,
  openSecretStore,
  promoteStandby,
  withClient,
  type ExecResult,
} from '@pgfleet/postgres';
import {
  NodeRuntimeError,
  type NodeEndpoint,
  type NodeInfo,
  type NodeSpec,
  type NodeStatusReport,
  type UpstreamLeader,
} from '../port.js';
import {
  containersOfNode,
  execIn,
  IN_CONTAINER,
  isStatus,
  LABEL,
  nodeEnv,
  nodeOfLabels,
  removeNodeContainer,
  safeId,
} from './containers.js';
import { dockerTool } from './dockerTool.js';
import { networkIsolation } from './isolation.js';
import { hostNetworks, type DockerHostPart, type DockerNodeRuntime } from './hostPart.js';
import { dockerArchive } from './archive.js';
import { copyStoppedIn, rewindIn } from './nodeCopy.js';
import { archiveToolContainer, pitrPathsIn, repoBind } from './pgBackRestIn.js';
import { dockerSpares } from './spares.js';
import type { FileIn } from './scriptIn.js';
import { dockerMajorUpgrade } from './majorUpgrade.js';
import {
  containerAddress,
  controlDataIn,
  createNodeContainer,
  ensureRunning,
  killServer,
  listNodes,
  postmasterPid,
  reloadServer,
  startServer,
  stopServer,
} from './nodeContainer.js';
import {
  basebackupIn,
  initdbIn,
  isInitializedIn,
  leaderFrom,
  nodeConfigSteps,
  pointAtIn,
  standbyFiles,
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
  /** The host's pgBackRest repository, mounted at its path in every container (default `{home}/docker/pitr/repo`). */
  pitrRepo?: string;
  /** Where the driver's warnings go (e.g. no network isolation on this host); default stderr. */
  log?: (line: string) => void;
  /** This host's part in a multi-host runtime (`createMultiHostRuntime`). */
  multiHost?: DockerHostPart;
}

/** Where a node's superuser password is kept (the control plane reaches its node over TCP with it). */
const superuserRef = (nodeId: string) => `runtime/docker/${nodeId}/superuser`;

/**
 * The `docker` driver: one container per node (`pgfleet-{clusterId}-{nodeId}`), its data on a
 * named volume, on the cluster's private network `pgfleet-{clusterId}`, reached at its address
 * there (no port published on one host); PostgreSQL started, stopped and killed inside it with
 * pg_ctl through exec, as the postgres OS user. It keeps no state in memory: every call finds the
 * node's container by its labels, so a restarted control plane sees the nodes as they are, and the
 * engine's unique container names keep a node from ever getting a second container.
 */
export function createDockerRuntime(options: DockerRuntimeOptions): DockerNodeRuntime {
  const docker = typeof options.docker === 'string' ? dockerClient({ socketPath: options.docker }) : options.docker;
  const timeout = options.timeoutSeconds ?? 60;
  const secrets = openSecretStore(options.home);
  const pitrRepo = options.pitrRepo ?? join(options.home, 'docker', 'pitr', 'repo');
  const pitr = pitrPathsIn(pitrRepo);
  const part = options.multiHost;
  const log = options.log ?? ((line: string) => console.warn(line));
  const isolation = networkIsolation(docker, log);
  const spares = dockerSpares(docker, () => archiveToolContainer(docker, options.image, pitrRepo, pitr), log);
  const networks = hostNetworks(docker, isolation, part);
  const ensureNet = networks.ensure;
  /** Start a node's container, its network's isolation made again first (gone after a reboot of the host). */
  const startContainer = async (c: Docker.Container, info: NodeInfo) => {
    await networks.isolate(info.clusterId);
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
  const subnetOf = async (info: NodeInfo) => (await ensureNet(info.clusterId)).subnet;
  const { writeConfig, prepareNode } = nodeConfigSteps(docker, pitr, subnetOf, part?.peers);
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
  /** The container's address on its network (started first, as for an exec: no address without it). */
  const endpoint = async (nodeId: string, database = 'postgres'): Promise<NodeEndpoint> => {
    const { c, info } = await up(nodeId);
    const host = await containerAddress(c, info);
    const password = await secrets.get(superuserRef(nodeId));
    return { host, port: IN_CONTAINER.port, user: 'postgres', database, ...(password ? { password } : {}) };
  };

  const runtime: DockerNodeRuntime = {
    container: async (nodeId) => ({ docker, ...(await up(nodeId)) }),

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
      const { name } = await ensureNet(spec.clusterId);
      try {
        await createNodeContainer(docker, spec, options.image, name, [repoBind(pitrRepo)], part?.publishOn);
      } catch (error) {
        if (!isStatus(error, 409) && !/already in use|already exists/i.test((error as Error).message)) throw error;
        const raced = await find(spec.nodeId);
        if (raced && same(raced.info)) return raced.info;
        const message = `a container for node ${spec.nodeId} already exists: ${(error as Error).message}`;
        throw new NodeRuntimeError('NODE_EXISTS', message, { nodeId: spec.nodeId });
      }
      // Its container runs from here (PostgreSQL does not): a node made while another one's initdb runs
      // (a new cluster's followers) is ready for its copy by then.
      const made = await need(spec.nodeId);
      await startContainer(made.c, made.info);
      return made.info;
    },

    async start(nodeId) {
      const { c, info } = await up(nodeId);
      return { pid: await startServer(docker, c, info, timeout, true) };
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
      return execIn(docker, c, [cmd, ...args], {
        workingDir: IN_CONTAINER.dataDir,
        ...(opts.input !== undefined ? { input: opts.input } : {}),
        env: { ...nodeEnv(info.major), ...opts.env },
      });
    },

    async remove(nodeId) {
      const found = await find(nodeId);
      await removeNodeContainer(docker, nodeId, found);
      await secrets.delete(superuserRef(nodeId));
      if (found) await networks.removeIfUnused(found.info.clusterId);
    },

    async initialize(nodeId, setup) {
      const { c, info } = await up(nodeId);
      if (!(await prepareNode(c, setup))) {
        const keep = (password: string) => secrets.put(superuserRef(nodeId), password);
        const filled = await spares.fill(c, info.major, keep);
        if (!filled) await initdbIn(docker, c, info.major, await superuserPassword(nodeId));
      }
      await writeConfig(c, info, setup, { prepared: true, reload: true });
    },

    warm: (major) => spares.warm(major),

    async cloneFrom(nodeId, { leader, slotName, ...setup }) {
      const { c, info } = await up(nodeId);
      const config = { ...setup, clusterName: setup.clusterName ?? slotName };
      if ((await postmasterPid(docker, c, info)) !== undefined && !(await isInitializedIn(docker, c))) {
        throw new Error(`node ${nodeId} runs on a data directory pgfleet did not set up: it is left untouched`);
      }
      let before: FileIn[] = [];
      if (!(await prepareNode(c, setup))) {
        const upstream = leaderFrom(leader, setup.tls !== undefined);
        const autoConf = await basebackupIn(docker, c, info.major, upstream, slotName, setup.tls);
        before = standbyFiles(upstream, slotName, true, autoConf);
        await copySuperuser(await leaderNodeOf(leader.host), nodeId);
      }
      await writeConfig(c, info, config, { prepared: true, before, reload: true });
    },

    async copyStopped(nodeId, { sourceNodeId, leader, slotName, ...setup }) {
      const target = await up(nodeId);
      const config = { ...setup, clusterName: setup.clusterName ?? slotName };
      let before: FileIn[] = [];
      if (!(await prepareNode(target.c, setup))) {
        const upstream = leaderFrom(leader, setup.tls !== undefined);
        const source = part ? await part.nodes.up(sourceNodeId) : await up(sourceNodeId);
        before = await copyStoppedIn(docker, source, target, upstream, slotName, setup);
        await copySuperuser(sourceNodeId, nodeId);
      }
      await writeConfig(target.c, target.info, config, { prepared: true, before });
    },

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
      await writeConfig(c, info, { ...setup, ...(clusterName ? { clusterName } : {}) }, { reload: true });
    },

    follow: (nodeId, leader, slotName) => pointAt(nodeId, leader, slotName, true),
    repoint: (nodeId, leader, slotName) => pointAt(nodeId, leader, slotName, false),

    async detach(nodeId) {
      return { receivedLsn: await detachStandby(await endpoint(nodeId)) };
    },

    async rewind(nodeId, sourceNodeId) {
      const node = await up(nodeId);
      await needInitialized(node.c, node.info);
      // pg_rewind reads the source's timeline from its control file, which a just-promoted server
      // updates only at its first checkpoint after the promotion.
      const peers = part?.nodes ?? runtime;
      await withClient(await peers.endpoint(sourceNodeId), (q) => q.query('CHECKPOINT'));
      const source = {
        ...(await peers.peerAddress(sourceNodeId)),
        password: await secrets.get(superuserRef(sourceNodeId)),
      };
      await rewindIn(docker, node, source);
    },

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
      await need(nodeId);
      // The node's alias on its cluster network, which the network's DNS resolves for the other
      // containers and which its certificate names (verify-full replication).
      return { host: nodeHostName(nodeId), port: IN_CONTAINER.port };
    },

    runTool(nodeId, tool, args, opts = {}) {
      return dockerTool(docker, () => up(nodeId), tool, args, opts);
    },

    list: (clusterId) => listNodes(docker, safeId(clusterId, 'clusterId')),

    archive: dockerArchive({
      docker,
      image: options.image,
      repo: pitrRepo,
      tlsDir: join(options.home, 'docker', 'pitr', 'tls'),
      paths: pitr,
      up,
      writeConfig,
      startServer: (c, info) => startServer(docker, c, info, timeout),
      superuserPassword,
    }),
    majorUpgrade: dockerMajorUpgrade({ docker, up, recreate, writeConfig }),
  };

  /** follow (`standby`) or repoint: see pointAtIn. */
  async function pointAt(nodeId: string, leader: UpstreamLeader, slot: string, standby: boolean) {
    const node = await up(nodeId);
    await needInitialized(node.c, node.info);
    await pointAtIn(docker, node, leader, slot, standby, () => endpoint(nodeId));
  }

  /**
   * The node's container remade with `major` on its volume (from the volume's labels when it has
   * none), at its address of before: the gateways, which resolve its name, reach it at once.
   */
  async function recreate(nodeId: string, major: number) {
    const found = await find(nodeId);
    const volumes = (await docker.listVolumes({ filters: { label: [`${LABEL.node}=${nodeId}`] } })).Volumes ?? [];
    const spec = found?.info ?? nodeOfLabels(volumes[0]?.Labels);
    if (!spec) throw new NodeRuntimeError('NODE_NOT_FOUND', `node ${nodeId} does not exist`, { nodeId });
    const { name } = await ensureNet(spec.clusterId);
    const address = found ? await containerAddress(found.c, found.info).catch(() => undefined) : undefined;
    await found?.c.remove({ force: true });
    const next = { clusterId: spec.clusterId, nodeId, major, port: spec.port };
    const binds = [repoBind(pitrRepo)];
    await createNodeContainer(docker, next, options.image, name, binds, part?.publishOn, address);
    return up(nodeId);
  }

  /** A copy has the source's superuser (and password): the control plane logs in with it. */
  async function copySuperuser(fromNodeId: string, toNodeId: string) {
    const password = await secrets.get(superuserRef(fromNodeId));
    if (password) await secrets.put(superuserRef(toNodeId), password);
  }

  /** The node a peer address names (its `nodeHostName`), on this host or another; else the name itself. */
  async function leaderNodeOf(host: string): Promise<string> {
    const nodes = await docker.listContainers({ all: true, filters: { label: [`${LABEL.role}=node`] } });
    const here = nodes.find((n) => nodeHostName(n.Labels[LABEL.node] ?? '') === host)?.Labels[LABEL.node];
    return here ?? (await part?.nodes.named(host)) ?? host;
  }

  return runtime;
}
