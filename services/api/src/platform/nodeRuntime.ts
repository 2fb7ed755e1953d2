import {
  dockerHosts,
  ensureNodeImage,
  ensureNodeImageStore,
  localPodmanDir,
  runtimeKind,
  startPodmanService,
} from '@pgfleet/runtime';

/** What `up` started for the nodes' runtime, stopped last. */
export interface RuntimeHandle {
  stop(): Promise<void>;
}

/**
 * The nodes' runtime as `up` prepares it, before any service starts. `process`: nothing to do.
 * `docker` on the listed PGFLEET_DOCKER_HOSTS: the node image is made sure of on each (imported
 * when missing). `docker` with no hosts: the node image in the machine's shared image store
 * (built when missing, with progress), then a Podman API service under `$PGFLEET_HOME/podman`
 * reading it, which `stop` stops (its containers keep running, as the process runtime's servers do).
 * An unknown PGFLEET_RUNTIME or a malformed host list throws before anything is started.
 */
export async function prepareNodeRuntime(
  home: string,
  env: NodeJS.ProcessEnv,
  log: (msg: string) => void,
): Promise<RuntimeHandle | undefined> {
  if (runtimeKind(env) === 'process') return undefined;
  const progress = (line: string) => log(`image      ${line}`);
  if (env.PGFLEET_DOCKER_HOSTS?.trim()) {
    const hosts = dockerHosts(home, env);
    for (const host of hosts) await ensureNodeImage(host.docker, { onProgress: progress });
    log(`runtime    docker on ${hosts.map((h) => h.name).join(', ')} (nodes on the first host in this version)`);
    return undefined;
  }
  const { store } = await ensureNodeImageStore({ onProgress: progress });
  const podman = await startPodmanService(localPodmanDir(home), { imageStore: store });
  log(`runtime    docker on unix://${podman.socketPath} (a Podman API service, pid ${podman.pid})`);
  return { stop: () => podman.stop() };
}
