import { dirname } from 'node:path';
import type Docker from 'dockerode';
import { nodeHostName, runtimeNodeId } from '@pgfleet/contracts';
import {
  gatewayDir,
  gatewayFiles,
  type GatewayBind,
  type GatewayRef,
  type GatewaySpec,
  type HaproxyPlace,
} from '@pgfleet/gateway';
import {
  containersOfNode,
  ensureNetwork,
  execIn,
  IN_CONTAINER,
  isStatus,
  LABEL,
  removeNetworkIfUnused,
} from './containers.js';
import { bridgeName, networkName } from './containers.js';
import type { NetworkIsolation } from './isolation.js';

/** Another Docker host of the runtime: where its nodes' ports are published. */
interface GatewayPeerHost {
  docker: Docker;
  /** The address its nodes' ports are published on (a multi-host runtime's advertised address). */
  address: string;
}

export interface GatewayContainersOptions {
  /** The platform's home: each gateway's run directory (config, pid file, stats socket) is bind-mounted from there. */
  home: string;
  /** The engine the gateways run on: a local one (their run directories are bind mounts of this machine's). */
  docker: Docker;
  image: string;
  /** Before a gateway's container is first created (the image made sure of). */
  beforeCreate?: () => Promise<void>;
  isolation: NetworkIsolation;
  /** The name of a cluster's bridge on this host; default `bridgeName(clusterId)` (a runtime's first host). */
  bridge?: (clusterId: string) => string;
  /** The same cluster's bridges of the other local hosts (a multi-host runtime), which the gateways reach. */
  siblings?: (clusterId: string) => string[];
  /** The runtime's other hosts: a node found on one is reached on its address and published port. */
  others?: readonly GatewayPeerHost[];
  /** A warning (e.g. the HA agent unreachable from the containers); default stderr. */
  log?: (line: string) => void;
}

const ROLE = { net: 'gateway-net', gateway: 'gateway' } as const;
const GATEWAY_LABEL = 'pgfleet.gateway';
const PUBLISH_LABEL = 'pgfleet.publish';

/** The container holding a cluster's gateways' network namespace (and their published ports). */
export const gatewayNetName = (clusterId: string) => `pgfleet-${clusterId}-gw`;
export const gatewayContainerName = (clusterId: string, gatewayId: string) => `pgfleet-${clusterId}-gw-${gatewayId}`;

/** The gateway containers on an engine: of a cluster, of one of its gateways, or all. */
export const gatewayContainersOn = (docker: Docker, clusterId?: string, gatewayId?: string) =>
  docker.listContainers({
    all: true,
    filters: {
      label: [
        `${LABEL.role}=${ROLE.gateway}`,
        ...(clusterId !== undefined ? [`${LABEL.cluster}=${clusterId}`] : []),
        ...(gatewayId !== undefined ? [`${GATEWAY_LABEL}=${gatewayId}`] : []),
      ],
    },
  });

const isLoopback = (host: string) => host === 'localhost' || host.startsWith('127.') || host === '::1';

/** The host addresses a spec's binds publish, one entry per port: `{port: [host ips]}`, sorted. */
function publications(spec: GatewaySpec): Record<string, string[]> {
  const all: GatewayBind[] = [...spec.binds, ...(spec.readOnly?.binds ?? [])];
  const byPort: Record<string, string[]> = {};
  for (const b of all) byPort[b.port] = [...new Set([...(byPort[b.port] ?? []), b.host])].sort();
  return byPort;
}

/** Inside the gateways' namespace every published port is bound on all its addresses. */
const inside = (binds: readonly GatewayBind[]): GatewayBind[] =>
  [...new Set(binds.map((b) => b.port))].map((port) => ({ host: '0.0.0.0', port }));

/**
 * The docker runtime's gateways on one local host (`docker`): each gateway's HAProxy runs in a
 * container of its own (`gatewaysOnHosts` picks the host of each when there are several). The
 * cluster's gateways on this host share one network namespace, held by a
 * small container on the cluster's private network (`pgfleet-{cluster}-gw`, a pod's infra
 * container): the only containers that publish a port on the host, on the addresses the
 * gateways' binds name (loopback; the outside address once exposed). Both gateways of a Business
 * cluster bind the same ports in it (SO_REUSEPORT), as the process runtime's do on one machine: a
 * crash of one leaves the other serving. HAProxy reaches a node of the same host by its host name
 * on the cluster network (port 5432, resolved again at runtime: a restarted node may get another
 * address), a node of another host on that host's address and published port.
 *
 * HAProxy runs in daemon mode inside its container (which itself runs `sleep`), through exec, so
 * a reload is the same seamless `-x`/`-sf` as on a machine; its run directory is bind-mounted at
 * the same path, so the control plane reads its pid file and speaks to its stats socket as before.
 */
export function containerGatewayPlace(options: GatewayContainersOptions): HaproxyPlace {
  const { docker, home } = options;
  const bridgeOf = options.bridge ?? ((clusterId: string) => bridgeName(clusterId));
  const log = options.log ?? ((line: string) => console.warn(line));
  let agentWarned = false;
  const network = (clusterId: string) => {
    const siblings = options.siblings?.(clusterId) ?? [];
    return { add: (b: string) => options.isolation.add(b, siblings), remove: options.isolation.remove };
  };

  const inspect = async (name: string) => {
    try {
      return await docker.getContainer(name).inspect();
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  };
  const removeContainer = async (name: string) => {
    await docker
      .getContainer(name)
      .remove({ force: true })
      .catch((error: unknown) => {
        if (!isStatus(error, 404)) throw error;
      });
  };
  const gatewaysOf = (clusterId: string) => gatewayContainersOn(docker, clusterId);

  /** One holder check at a time per cluster: the gateways of a cluster are started together. */
  const netLocks = new Map<string, Promise<void>>();
  const ensureNet = (clusterId: string, publish: Record<string, string[]>): Promise<void> => {
    const next = (netLocks.get(clusterId) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => ensureNetNow(clusterId, publish));
    netLocks.set(clusterId, next);
    return next;
  };
  /** A container started, or already running (304). */
  const start = async (name: string) => {
    await docker
      .getContainer(name)
      .start()
      .catch((error: unknown) => {
        if (!isStatus(error, 304)) throw error;
      });
  };

  /** The namespace holder of the cluster, publishing `publish`; remade (its gateways too) when that changed. */
  const ensureNetNow = async (clusterId: string, publish: Record<string, string[]>) => {
    const name = gatewayNetName(clusterId);
    const wanted = JSON.stringify(publish);
    let found = await inspect(name);
    if (found && found.Config.Labels?.[PUBLISH_LABEL] !== wanted) {
      // Published ports are fixed when a container is made: its gateways go with it, and start again below.
      for (const g of await gatewaysOf(clusterId)) await removeContainer(g.Id);
      await removeContainer(name);
      found = undefined;
    }
    if (!found) {
      await options.beforeCreate?.();
      const net = await ensureNetwork(docker, clusterId, network(clusterId), bridgeOf(clusterId));
      await docker
        .createContainer({
          name,
          Image: options.image,
          Cmd: ['sleep', 'infinity'],
          Labels: { [LABEL.cluster]: clusterId, [LABEL.role]: ROLE.net, [PUBLISH_LABEL]: wanted },
          ExposedPorts: Object.fromEntries(Object.keys(publish).map((p) => [`${p}/tcp`, {}])),
          HostConfig: {
            Init: true,
            RestartPolicy: { Name: 'no' },
            NetworkMode: net.name,
            PortBindings: Object.fromEntries(
              Object.entries(publish).map(([p, ips]) => [`${p}/tcp`, ips.map((HostIp) => ({ HostIp, HostPort: p }))]),
            ),
          },
        })
        .catch((error: unknown) => {
          if (!isStatus(error, 409)) throw error; // another worker made it meanwhile
        });
      found = await inspect(name);
    }
    if (!found?.State.Running) {
      await network(clusterId).add(bridgeOf(clusterId)); // gone after a reboot of the host
      await start(name);
      // Its gateways' namespace was the old one: they join the new one.
      for (const g of await gatewaysOf(clusterId)) await removeContainer(g.Id);
    }
  };

  const ensureGateway = async (ref: GatewayRef) => {
    const name = gatewayContainerName(ref.clusterId, ref.gatewayId);
    let found = await inspect(name);
    if (!found) {
      const f = gatewayFiles(gatewayDir(home, ref.clusterId, ref.gatewayId));
      const binds = [
        `${f.dir}:${f.dir}`,
        ...(dirname(f.socket) !== f.dir ? [`${dirname(f.socket)}:${dirname(f.socket)}`] : []),
      ];
      await docker
        .createContainer({
          name,
          Image: options.image,
          Cmd: ['sleep', 'infinity'],
          Labels: { [LABEL.cluster]: ref.clusterId, [LABEL.role]: ROLE.gateway, [GATEWAY_LABEL]: ref.gatewayId },
          HostConfig: {
            Init: true,
            RestartPolicy: { Name: 'no' },
            NetworkMode: `container:${gatewayNetName(ref.clusterId)}`,
            Binds: binds,
          },
        })
        .catch((error: unknown) => {
          if (!isStatus(error, 409)) throw error;
        });
      found = await inspect(name);
    }
    if (!found?.State.Running) await start(name);
  };

  /**
   * Where the gateways reach a node: on this host by its host name (port 5432), else on its host's
   * address and published port. With several hosts, a node of this host by its address on the
   * network instead: the engines of one machine share the DNS server's files, where the cluster's
   * network has the same name on every host, so the name may not resolve here.
   */
  const backend = async (clusterId: string, nodeId: string, port: number) => {
    const rid = runtimeNodeId(clusterId, nodeId);
    const others = options.others ?? [];
    for (const other of others) {
      if ((await containersOfNode(other.docker, rid)).length > 0) return { host: other.address, port };
    }
    const [here] = others.length > 0 ? await containersOfNode(docker, rid) : [];
    const address = here?.NetworkSettings?.Networks?.[networkName(clusterId)]?.IPAddress;
    return { host: address || nodeHostName(rid), port: IN_CONTAINER.port };
  };

  /** The running gateway container, or undefined (none, or stopped: it runs no HAProxy). */
  const running = async (ref: GatewayRef) => {
    const found = await inspect(gatewayContainerName(ref.clusterId, ref.gatewayId));
    return found?.State.Running ? docker.getContainer(found.Id) : undefined;
  };

  return {
    async prepare(ref, spec) {
      await ensureNet(ref.clusterId, publications(spec));
      await ensureGateway(ref);
      const nodes = await Promise.all(
        spec.nodes.map(async (n) => ({ nodeId: n.nodeId, ...(await backend(ref.clusterId, n.nodeId, n.port)) })),
      );
      const { agent, placedOn: _placedOn, ...rest } = spec;
      if (agent && isLoopback(agent.host) && !agentWarned) {
        agentWarned = true;
        log(
          `gateways: the HA agent ${agent.host}:${agent.port} is not reachable from containers; ` +
            'set PGFLEET_HA_AGENT to an address they reach',
        );
      }
      return {
        ...rest,
        ...(agent && !isLoopback(agent.host) ? { agent } : {}),
        binds: inside(spec.binds),
        ...(spec.readOnly ? { readOnly: { ...spec.readOnly, binds: inside(spec.readOnly.binds) } } : {}),
        nodes,
        resolveAtRuntime: true,
      };
    },

    async run(ref, args) {
      const c = await running(ref);
      if (!c) return { code: -1, output: `the container of gateway ${ref.gatewayId} is not running` };
      const r = await execIn(docker, c, ['/usr/sbin/haproxy', ...args], { user: 'root' });
      return { code: r.code, output: `${r.stdout}${r.stderr}` };
    },

    async processes(ref, config) {
      const c = await running(ref);
      if (!c) return [];
      const script = [
        'for d in /proc/[0-9]*; do',
        '  [ "$(cat "$d/comm" 2>/dev/null)" = haproxy ] || continue',
        '  grep -q "^State:[[:space:]]*Z" "$d/status" 2>/dev/null && continue',
        `  tr '\\0' '\\n' < "$d/cmdline" 2>/dev/null | grep -qxF -- "$1" && echo "\${d#/proc/}"`,
        'done; true',
      ].join('\n');
      const r = await execIn(docker, c, ['sh', '-c', script, 'sh', config], { user: 'root' });
      if (r.code !== 0) throw new Error(`listing the processes of gateway ${ref.gatewayId} failed: ${r.stderr.trim()}`);
      return r.stdout
        .split('\n')
        .filter((l) => /^\d+$/.test(l))
        .map(Number)
        .sort((a, b) => a - b);
    },

    async signal(ref, pids, signal) {
      const c = await running(ref);
      if (!c || pids.length === 0) return;
      await execIn(docker, c, ['kill', '-s', signal.replace(/^SIG/, ''), ...pids.map(String)], { user: 'root' });
    },

    async removed(ref) {
      await removeContainer(gatewayContainerName(ref.clusterId, ref.gatewayId));
      if ((await gatewaysOf(ref.clusterId)).length > 0) return;
      netLocks.delete(ref.clusterId);
      await removeContainer(gatewayNetName(ref.clusterId));
      await removeNetworkIfUnused(docker, ref.clusterId, network(ref.clusterId), bridgeOf(ref.clusterId));
    },
  };
}
