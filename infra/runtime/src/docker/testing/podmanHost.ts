import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { bridgeName, LABEL } from '../containers.js';
import { ensureNodeImageStore } from '../imageStore.js';
import { ensureNodeImage } from '../images.js';
import { networkIsolation } from '../isolation.js';
import { startPodmanService, type PodmanService } from '../podman.js';

/** A Podman API service of a test's own, standing in for a Docker host, with the node image on it. */
export interface TestHost {
  /** The test's temporary directory (the service's storage and the runtime's home go under it). */
  tmp: string;
  service: PodmanService;
  docker: Docker;
  image: string;
  /** Remove these clusters' containers (and those with `extraLabels`), volumes, networks, isolation, service. */
  cleanup(clusterIds: readonly string[], extraLabels?: readonly string[]): Promise<void>;
}

/**
 * Start a Podman service in a new `/tmp/{prefix}*` directory (its networks' subnets from
 * `subnetPool` when given); the image comes from the machine's shared store (imported once, not per run).
 */
export async function startTestHost(prefix: string, options: { subnetPool?: string } = {}): Promise<TestHost> {
  const tmp = mkdtempSync(`/tmp/${prefix}`);
  const { store } = await ensureNodeImageStore({ onProgress: (line) => console.log(line) });
  const service = await startPodmanService(join(tmp, 'podman'), { imageStore: store, ...options });
  const docker = new Docker({ socketPath: service.socketPath });
  const image = await ensureNodeImage(docker, { onProgress: (line) => console.log(line) });
  const cleanup = async (clusterIds: readonly string[], extraLabels: readonly string[] = []) => {
    const labels = [...clusterIds.map((id) => `${LABEL.cluster}=${id}`), ...extraLabels];
    for (const label of labels) {
      const found = await docker.listContainers({ all: true, filters: { label: [label] } });
      // Gateways first: they live in the namespace of their cluster's gateway-net container.
      const order = (c: Docker.ContainerInfo) => (c.Labels[LABEL.role] === 'gateway' ? 0 : 1);
      for (const c of found.sort((x, y) => order(x) - order(y)))
        await docker.getContainer(c.Id).remove({ force: true });
    }
    for (const clusterId of clusterIds) {
      const label = { label: [`${LABEL.cluster}=${clusterId}`] };
      for (const v of (await docker.listVolumes({ filters: label })).Volumes ?? [])
        await docker.getVolume(v.Name).remove();
      for (const n of await docker.listNetworks({ filters: label })) await docker.getNetwork(n.Id).remove();
      await networkIsolation(docker, console.warn).remove(bridgeName(clusterId));
    }
    await service.purge();
    rmSync(tmp, { recursive: true, force: true });
  };
  return { tmp, service, docker, image, cleanup };
}

/** Poll `fn` every 100 ms (errors count as not yet) until `ok` holds; throws with the last value after ~30 s. */
export async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; ; i++) {
    const v = await fn().catch((e: Error) => e);
    if (!(v instanceof Error) && ok(v)) return v;
    if (i > 300) throw new Error(`condition not met; last value ${v instanceof Error ? v.message : JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
