import type Docker from 'dockerode';
import { LABEL } from './docker/containers.js';
import { createDockerRuntime } from './docker/dockerRuntime.js';
import { ensureNodeImage, nodeImageTag } from './docker/images.js';
import { dockerHosts, runtimeKind, type DockerHost } from './dockerHosts.js';
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
 * then the `docker` driver on the first of `dockerHosts` (this slice places every node there). Its
 * first `create` makes sure the node image is on that host (built or imported when missing, with
 * progress); `spares` and `archiveRepo` are process options the docker driver has no use for.
 * An unknown PGFLEET_RUNTIME or a malformed host list throws a RuntimeSelectionError.
 */
export function createNodeRuntime(options: NodeRuntimeOptions): NodeRuntime {
  const { env = process.env, log = (line: string) => console.warn(line), ...processOptions } = options;
  if (runtimeKind(env) === 'process') return createProcessRuntime(processOptions);
  const host = dockerHosts(options.home, env)[0]!;
  const image = nodeImageTag();
  const runtime = createDockerRuntime({
    home: options.home,
    docker: host.docker,
    image,
    log,
    ...(options.timeoutSeconds ? { timeoutSeconds: options.timeoutSeconds } : {}),
  });
  let ready: Promise<string> | undefined;
  const imageReady = () => {
    ready ??= ensureNodeImage(host.docker, { onProgress: log }).catch((e: unknown) => {
      ready = undefined; // the next create tries again
      throw e;
    });
    return ready;
  };
  return {
    ...runtime,
    hosts: hostsOf(host),
    async create(spec) {
      await imageReady();
      return runtime.create(spec);
    },
  };
}

/** The hosts of the docker runtime: in this slice the one it creates nodes on (the first of the list). */
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
