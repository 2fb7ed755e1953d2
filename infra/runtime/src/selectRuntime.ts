import type Docker from 'dockerode';
import { createHaproxyGateways, type HaproxyGateways } from '@pgfleet/gateway';
import { LABEL } from './docker/containers.js';
import { createDockerRuntime } from './docker/dockerRuntime.js';
import { containerGatewayPlace } from './docker/gatewayContainers.js';
import { gatewaysOnHosts } from './docker/gatewayHosts.js';
import { networkIsolation } from './docker/isolation.js';
import { addressOf, createMultiHostRuntime, hostBridges, isLocal } from './docker/multiHost.js';
import { ensureNodeImage, nodeImageTag } from './docker/images.js';
import { dockerHosts, RuntimeSelectionError, runtimeKind, type DockerHost } from './dockerHosts.js';
import type { NodeRuntime, RuntimeHosts } from './port.js';
import { createProcessRuntime, type ProcessRuntimeOptions } from './process/processRuntime.js';

export interface NodeRuntimeOptions extends ProcessRuntimeOptions {
  /** Where PGFLEET_RUNTIME, PGFLEET_DOCKER_HOSTS and the TLS files are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The docker driver's progress and warnings (the image build, no network isolation); default stderr. */
  log?: (line: string) => void;
}

/**
 * The NodeRuntime the environment asks for: the `process` driver unless PGFLEET_RUNTIME=docker,
 * then the `docker` driver on `dockerHosts`: one host, or several (`createMultiHostRuntime`: each
 * node on the host placement chose). The first `create` on a host makes sure the node image is
 * there (built or imported when missing, with progress); `spares` and `archiveRepo` are process
 * options the docker driver has no use for. An unknown PGFLEET_RUNTIME or a malformed host list
 * throws a RuntimeSelectionError.
 */
export function createNodeRuntime(options: NodeRuntimeOptions): NodeRuntime {
  const { env = process.env, log = (line: string) => console.warn(line), ...processOptions } = options;
  if (runtimeKind(env) === 'process') return createProcessRuntime(processOptions);
  const hosts = dockerHosts(options.home, env);
  const driverOptions = {
    home: options.home,
    image: nodeImageTag(),
    log,
    ...(options.timeoutSeconds ? { timeoutSeconds: options.timeoutSeconds } : {}),
  };
  const ready = new Map<string, Promise<string>>();
  const imageReady = (host: DockerHost) => {
    let made = ready.get(host.name);
    if (!made) {
      made = ensureNodeImage(host.docker, { onProgress: log }).catch((e: unknown) => {
        ready.delete(host.name); // the next create tries again
        throw e;
      });
      ready.set(host.name, made);
    }
    return made;
  };
  if (hosts.length > 1) {
    const beforeCreate = async (name: string) => {
      await imageReady(hosts.find((h) => h.name === name)!);
    };
    try {
      return createMultiHostRuntime({ ...driverOptions, hosts, beforeCreate });
    } catch (error) {
      throw new RuntimeSelectionError(`PGFLEET_DOCKER_HOSTS: ${(error as Error).message}`);
    }
  }
  const host = hosts[0]!;
  const runtime = createDockerRuntime({ ...driverOptions, docker: host.docker });
  return {
    ...runtime,
    hosts: hostsOf(host),
    async create(spec) {
      await imageReady(host);
      return runtime.create(spec);
    },
  };
}

/** The one host of a docker runtime with a single host. */
function hostsOf(host: DockerHost): RuntimeHosts {
  const nodes = (label: string) => host.docker.listContainers({ all: true, filters: { label: [label] } });
  return {
    loads: async () => [{ host: host.name, nodes: (await nodes(`${LABEL.role}=node`)).length }],
    locate: async (nodeId) => {
      const [found] = await nodes(`${LABEL.node}=${nodeId}`);
      return found ? { host: host.name, container: containerOf(found) } : undefined;
    },
  };
}

const containerOf = (c: Docker.ContainerInfo) => (c.Names[0] ?? c.Id).replace(/^\//, '');

/**
 * The gateways the environment asks for: HAProxy processes on this machine (`process` runtime), or
 * a container per gateway on a local Docker host (`docker` runtime; their run directories are bind
 * mounts of this machine's), reaching the nodes of other hosts on their published ports. With
 * several local hosts, each gateway runs on the host placement chose (`hosts`, GatewayPlaced);
 * `tcp://` hosts hold nodes only.
 */
export function createGateways(options: Pick<NodeRuntimeOptions, 'home' | 'env' | 'log'>): HaproxyGateways {
  const { home, env = process.env, log = (line: string) => console.warn(line) } = options;
  if (runtimeKind(env) === 'process') return createHaproxyGateways({ home });
  const hosts = dockerHosts(home, env);
  if (!hosts[0] || !isLocal(hosts[0].docker)) {
    throw new RuntimeSelectionError('PGFLEET_DOCKER_HOSTS: the first host runs gateways and must be a unix:// socket');
  }
  // The bridges the node runtime's hosts give the cluster.
  const bridges = hostBridges(hosts);
  const local = hosts.flatMap((h, index) => (isLocal(h.docker) ? [{ h, index }] : []));
  const onHosts = local.map(({ h, index }) => ({
    name: h.name,
    docker: h.docker,
    place: containerGatewayPlace({
      home,
      docker: h.docker,
      image: nodeImageTag(),
      beforeCreate: async () => {
        await ensureNodeImage(h.docker, { onProgress: log });
      },
      isolation: networkIsolation(h.docker, log),
      bridge: (clusterId) => bridges.bridge(index, clusterId),
      siblings: (clusterId) => bridges.siblings(index, clusterId),
      others: hosts.filter((o) => o !== h).map((o) => ({ docker: o.docker, address: addressOf(o, isLocal(o.docker)) })),
      log,
    }),
  }));
  if (onHosts.length === 1) return createHaproxyGateways({ home, place: onHosts[0]!.place });
  return createHaproxyGateways({ home, ...gatewaysOnHosts(onHosts) });
}
