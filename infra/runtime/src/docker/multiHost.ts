import { nodeHostName } from '@pgfleet/contracts';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import {
  NodeRuntimeError,
  type NodeRuntime,
  type RuntimeHosts,
  type ToolProcess,
  type WalArchive,
  type MajorUpgrade,
} from '../port.js';
import { bridgeName, containersOfCluster, containersOfNode, execOk, LABEL, nodeOfLabels } from './containers.js';
import { createDockerRuntime, type DockerRuntimeOptions } from './dockerRuntime.js';
import type { DockerHostPart, DockerNodeRuntime } from './hostPart.js';

/** A Docker host of a multi-host runtime: its name (as NodePlaced records it), engine and address. */
export interface RuntimeDockerHost {
  name: string;
  docker: Docker;
  /**
   * The IPv4 address the other hosts' containers reach this host's published ports on. Default: the
   * address of a `tcp://` host's URL (an IPv4 address), or this machine's primary address for a unix socket.
   */
  address?: string;
}

export interface MultiHostRuntimeOptions extends Omit<DockerRuntimeOptions, 'docker' | 'multiHost'> {
  hosts: readonly RuntimeDockerHost[];
  /** Before the first create on a host (e.g. the node image made sure of there). */
  beforeCreate?: (host: string) => Promise<void>;
}

interface Host {
  name: string;
  docker: Docker;
  address: string;
  local: boolean;
  driver: DockerNodeRuntime;
}

/**
 * The bridge of a cluster on each of `hosts` (the first keeps the name of a runtime with one host;
 * several local hosts share one kernel, so each gets its own), and the same cluster's bridges of
 * the other local hosts, which its isolation lets it reach. Nodes and gateways name them alike.
 */
export function hostBridges(hosts: readonly { name: string; docker: Docker }[]) {
  const bridge = (index: number, clusterId: string) =>
    index === 0 ? bridgeName(clusterId) : bridgeName(clusterId, hosts[index]!.name);
  const siblings = (index: number, clusterId: string) =>
    isLocal(hosts[index]!.docker)
      ? hosts.flatMap((o, i) => (i !== index && isLocal(o.docker) ? [bridge(i, clusterId)] : []))
      : [];
  return { bridge, siblings };
}

/** What marks the lines this runtime writes into a container's /etc/hosts. */
const PEER_MARK = '# pgfleet peer';

export const isLocal = (docker: Docker) => {
  const modem = docker.modem as { socketPath?: unknown; host?: string };
  return !modem.host && Boolean(modem.socketPath);
};

/**
 * This machine's primary IPv4 address: the one of the default route's interface (what containers
 * of every local engine reach through the host's routing, unlike a bridge's own address).
 */
export function primaryAddress(): string {
  const routes = readFileSync('/proc/net/route', 'utf8').split('\n').slice(1);
  const iface = routes.map((l) => l.trim().split(/\s+/)).find((f) => f[1] === '00000000' && f[0])?.[0];
  const ipv4 = (name: string) => networkInterfaces()[name]?.find((a) => a.family === 'IPv4' && !a.internal)?.address;
  const address = iface ? ipv4(iface) : undefined;
  if (!address) throw new Error('this machine has no default route with an IPv4 address to publish node ports on');
  return address;
}

export function addressOf(host: RuntimeDockerHost, local: boolean): string {
  if (host.address) return host.address;
  if (local) return primaryAddress();
  const modemHost = (host.docker.modem as { host?: string }).host ?? '';
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(modemHost)) return modemHost;
  throw new Error(`docker host ${host.name}: name it by its IPv4 address, which the other hosts' nodes connect to`);
}

/**
 * A ToolProcess of a tool started once `started` says where: its stdout passed on, `kill` reaching
 * it whenever it comes.
 */
function deferredTool(started: Promise<ToolProcess>): ToolProcess {
  const stdout = new PassThrough();
  stdout.on('error', () => undefined); // delivered to whoever reads it, and through `done`
  let inner: ToolProcess | undefined;
  let killed = false;
  const done = started.then((tool) => {
    inner = tool;
    if (killed) tool.kill();
    tool.stdout.on('error', (error) => stdout.destroy(error));
    tool.stdout.pipe(stdout);
    return tool.done;
  });
  done.catch((error: Error) => stdout.destroy(error));
  const kill = () => {
    killed = true;
    inner?.kill();
  };
  stdout.on('close', () => {
    if (!stdout.writableFinished) kill();
  });
  return { stdout, done, kill };
}

/**
 * The docker runtime over several Docker hosts: one docker driver per host. `create` puts a node
 * on `spec.host` (placement's decision, NodePlaced) or the least loaded host; every other call
 * finds the node's host (remembered, else asked of every host by the node's labels) and delegates.
 *
 * Nodes on different hosts reach each other through ports published on each host's advertised
 * address: a node's peer address is its node id (the name its certificate carries) and its
 * published port, and every container of the cluster resolves each peer's id to the address of
 * the peer's host (lines in its /etc/hosts, written before it starts or connects to a peer). Each
 * host gets the cluster its own bridge (several local hosts share one kernel), and the isolation
 * lets the same cluster's bridges of this machine reach each other, no other cluster's.
 */
export function createMultiHostRuntime(options: MultiHostRuntimeOptions): NodeRuntime {
  const { hosts: listed, beforeCreate, ...driverOptions } = options;
  if (listed.length === 0) throw new Error('a multi-host docker runtime needs at least one host');
  const located = new Map<string, Host>();
  let runtime: NodeRuntime;
  const bridges = hostBridges(listed);
  const peers = [...new Set(listed.map((h) => `${addressOf(h, isLocal(h.docker))}/32`))];
  const hosts: Host[] = listed.map((h, index) => {
    const local = isLocal(h.docker);
    const address = addressOf(h, local);
    const part: DockerHostPart = {
      bridge: (clusterId) => bridges.bridge(index, clusterId),
      siblings: (clusterId) => bridges.siblings(index, clusterId),
      publishOn: [address],
      peers,
      nodes: {
        up: async (nodeId) => (await need(nodeId)).driver.container(nodeId),
        endpoint: (nodeId) => runtime.endpoint(nodeId),
        peerAddress: (nodeId) => runtime.peerAddress(nodeId),
        named: async (hostName) => {
          for (const o of listed) {
            const nodes = await o.docker.listContainers({ all: true, filters: { label: [`${LABEL.role}=node`] } });
            const found = nodes.find((n) => nodeHostName(n.Labels[LABEL.node] ?? '') === hostName);
            if (found) return found.Labels[LABEL.node];
          }
          return undefined;
        },
      },
    };
    const driver = createDockerRuntime({ ...driverOptions, docker: h.docker, multiHost: part });
    return { name: h.name, docker: h.docker, address, local, driver };
  });

  /** The node's host: remembered, else the host holding its container (or only its volume). */
  const hostOf = async (nodeId: string): Promise<Host | undefined> => {
    const known = located.get(nodeId);
    if (known) return known;
    for (const host of hosts) {
      const volumes = async () =>
        (await host.docker.listVolumes({ filters: { label: [`${LABEL.node}=${nodeId}`] } })).Volumes ?? [];
      if ((await containersOfNode(host.docker, nodeId)).length > 0 || (await volumes()).length > 0) {
        located.set(nodeId, host);
        return host;
      }
    }
    return undefined;
  };
  /** The node's host; an unknown node goes to the first host's driver, which says it is missing. */
  const need = async (nodeId: string): Promise<Host> => (await hostOf(nodeId)) ?? hosts[0]!;
  const nodeInfo = async (nodeId: string) => {
    const host = await need(nodeId);
    const [entry] = await containersOfNode(host.docker, nodeId);
    const info = nodeOfLabels(entry?.Labels);
    if (!info) throw new NodeRuntimeError('NODE_NOT_FOUND', `node ${nodeId} does not exist`, { nodeId });
    return { host, info };
  };
  const loads = async () =>
    Promise.all(
      hosts.map(async (h) => ({
        host: h,
        nodes: (await h.docker.listContainers({ all: true, filters: { label: [`${LABEL.role}=node`] } })).length,
      })),
    );

  /** Write every node of the node's cluster, on every host, into its /etc/hosts: id → its host's address. */
  const knowPeers = async (nodeId: string) => {
    const host = await hostOf(nodeId);
    if (!host) return; // the driver reports the missing node
    const { docker, c, info } = await host.driver.container(nodeId);
    const lines: string[] = [];
    for (const h of hosts) {
      for (const entry of await containersOfCluster(h.docker, info.clusterId)) {
        const peer = nodeOfLabels(entry.Labels);
        if (peer) lines.push(`${h.address} ${nodeHostName(peer.nodeId)} ${PEER_MARK}\n`);
      }
    }
    const tmp = '/etc/hosts.pgfleet';
    const script = `grep -v '${PEER_MARK}$' /etc/hosts > ${tmp}; cat >> ${tmp}; cat ${tmp} > /etc/hosts; rm -f ${tmp}`;
    await execOk(docker, c, ['sh', '-c', script], { user: 'root', input: lines.join('') });
  };
  const on = async <T>(nodeId: string, fn: (driver: DockerNodeRuntime) => Promise<T>): Promise<T> =>
    fn((await need(nodeId)).driver);
  /** Same, once the node's container knows where its peers are. */
  const connecting = async <T>(nodeId: string, fn: (driver: DockerNodeRuntime) => Promise<T>): Promise<T> => {
    await knowPeers(nodeId);
    return on(nodeId, fn);
  };
  const first = hosts[0]!.driver;

  const archive: WalArchive = {
    createStanza: (stanza, leader) => on(leader, (d) => d.archive.createStanza(stanza, leader)),
    upgradeStanza: (stanza, leader) => on(leader, (d) => d.archive.upgradeStanza(stanza, leader)),
    check: (stanza, leader) => on(leader, (d) => d.archive.check(stanza, leader)),
    async backup(stanza, { standbyNodeId, ...rest }) {
      const host = await need(rest.leaderNodeId);
      // A standby's files are read over its cluster network: only from a standby on the leader's host.
      const sameHost = standbyNodeId !== undefined && (await hostOf(standbyNodeId)) === host;
      return host.driver.archive.backup(stanza, sameHost ? { ...rest, standbyNodeId } : rest);
    },
    // The repository is one directory of this machine, mounted on every local host.
    info: (stanza) => first.archive.info(stanza),
    expire: (stanza, o) => first.archive.expire(stanza, o),
    restore: (nodeId, o) => connecting(nodeId, (d) => d.archive.restore(nodeId, o)),
    remove: (stanza) => first.archive.remove(stanza),
  };
  const majorUpgrade: MajorUpgrade = {
    check: (nodeId, o) => on(nodeId, (d) => d.majorUpgrade.check(nodeId, o)),
    upgrade: (nodeId, o) => on(nodeId, (d) => d.majorUpgrade.upgrade(nodeId, o)),
    switchTo: (nodeId, o) => on(nodeId, (d) => d.majorUpgrade.switchTo(nodeId, o)),
    discard: (nodeId) => on(nodeId, (d) => d.majorUpgrade.discard(nodeId)),
    removeOld: (nodeId) => on(nodeId, (d) => d.majorUpgrade.removeOld(nodeId)),
  };
  const runtimeHosts: RuntimeHosts = {
    loads: async () => (await loads()).map((l) => ({ host: l.host.name, nodes: l.nodes })),
    async locate(nodeId) {
      const host = await hostOf(nodeId);
      const [entry] = host ? await containersOfNode(host.docker, nodeId) : [];
      if (!host || !entry) return undefined;
      return { host: host.name, container: (entry.Names[0] ?? entry.Id).replace(/^\//, '') };
    },
  };

  runtime = {
    async create(spec) {
      const existing = await hostOf(spec.nodeId);
      const named = spec.host === undefined ? undefined : hosts.find((h) => h.name === spec.host);
      if (spec.host !== undefined && !named) {
        const message = `node ${spec.nodeId}: ${spec.host} is not one of this runtime's docker hosts`;
        throw new NodeRuntimeError('NOT_SUPPORTED', message, { nodeId: spec.nodeId, host: spec.host });
      }
      if (existing && named && existing !== named) {
        const message = `node ${spec.nodeId} already exists on ${existing.name}, not on ${named.name}`;
        throw new NodeRuntimeError('NODE_EXISTS', message, { nodeId: spec.nodeId, host: existing.name });
      }
      const least = async () =>
        (await loads()).sort((a, b) => a.nodes - b.nodes || a.host.name.localeCompare(b.host.name))[0]!.host;
      const host = existing ?? named ?? (await least());
      await beforeCreate?.(host.name);
      const info = await host.driver.create(spec);
      located.set(spec.nodeId, host);
      return info;
    },
    start: (nodeId) => connecting(nodeId, (d) => d.start(nodeId)),
    stop: (nodeId, mode) => on(nodeId, (d) => d.stop(nodeId, mode)),
    fence: (nodeId) => on(nodeId, (d) => d.fence(nodeId)),
    kill9: (nodeId) => on(nodeId, (d) => d.kill9(nodeId)),
    status: (nodeId) => on(nodeId, (d) => d.status(nodeId)),
    exec: (nodeId, cmd, args, o) => on(nodeId, (d) => d.exec(nodeId, cmd, args, o)),
    async remove(nodeId) {
      await on(nodeId, (d) => d.remove(nodeId));
      located.delete(nodeId);
    },
    initialize: (nodeId, setup) => on(nodeId, (d) => d.initialize(nodeId, setup)),
    cloneFrom: (nodeId, setup) => connecting(nodeId, (d) => d.cloneFrom(nodeId, setup)),
    copyStopped: (nodeId, setup) => connecting(nodeId, (d) => d.copyStopped(nodeId, setup)),
    isInitialized: (nodeId) => on(nodeId, (d) => d.isInitialized(nodeId)),
    configure: (nodeId, setup) => on(nodeId, (d) => d.configure(nodeId, setup)),
    follow: (nodeId, leader, slot) => connecting(nodeId, (d) => d.follow(nodeId, leader, slot)),
    repoint: (nodeId, leader, slot) => connecting(nodeId, (d) => d.repoint(nodeId, leader, slot)),
    detach: (nodeId) => on(nodeId, (d) => d.detach(nodeId)),
    rewind: (nodeId, source) => connecting(nodeId, (d) => d.rewind(nodeId, source)),
    reload: (nodeId) => on(nodeId, (d) => d.reload(nodeId)),
    promote: (nodeId) => on(nodeId, (d) => d.promote(nodeId)),
    controlData: (nodeId) => on(nodeId, (d) => d.controlData(nodeId)),
    async endpoint(nodeId, database) {
      const host = await need(nodeId);
      const endpoint = await host.driver.endpoint(nodeId, database);
      // A local host's node: its container's address, which this machine routes (its bridge).
      if (host.local) return endpoint;
      // A remote host's nodes are reached on its address, where their ports are published.
      const { info } = await nodeInfo(nodeId);
      return { ...endpoint, host: host.address, port: info.port };
    },
    async peerAddress(nodeId) {
      // Its host name, which every container of the cluster resolves to its host (knowPeers), and
      // the port published there; its certificate carries the name (verify-full replication).
      const { info } = await nodeInfo(nodeId);
      return { host: nodeHostName(nodeId), port: info.port };
    },
    runTool: (nodeId, tool, args, o) =>
      deferredTool(need(nodeId).then((host) => host.driver.runTool(nodeId, tool, args, o))),
    async list(clusterId) {
      const all = (await Promise.all(hosts.map((h) => h.driver.list(clusterId)))).flat();
      return all.sort((a, b) => a.nodeId.localeCompare(b.nodeId));
    },
    hosts: runtimeHosts,
    archive,
    majorUpgrade,
  };
  return runtime;
}
