import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  createNodeRuntime,
  dockerHosts,
  ensureNodeImage,
  ensureNodeImageStore,
  startPodmanService,
  type DockerHost,
  type PodmanService,
} from '@pgfleet/runtime';
import { startBenchPlatform, type BenchPlatform } from '../provisioning/platform.js';
import { log } from '../provisioning/report.js';
import { removeRaw } from './raw.js';

/** The PostgreSQL version of the creates (CreateCluster's default), whose spare the process platform keeps. */
const MAJOR = 15;

export interface DockerBench {
  /** The Podman API service both the docker platform and the raw baseline use, and the node image on it. */
  engine: { docker: DockerHost['docker']; name: string; image: string };
  /** `pgfleet up` on the process runtime (its own home and ports). */
  processPlatform: BenchPlatform;
  /** `pgfleet up` with PGFLEET_RUNTIME=docker and PGFLEET_DOCKER_HOSTS naming `engine` (its own home and ports). */
  dockerPlatform: BenchPlatform;
  /** Resolves once no background work would overlap a measurement: the process platform's spare is ready. */
  settle(): Promise<void>;
  /** Stop both platforms, remove what is left on the engine (nodes, raw containers), stop and remove the engine. */
  cleanup(): Promise<void>;
}

/** Set (or, for undefined, unset) variables of process.env while `fn` runs; the platforms copy it when they start. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const assign = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  assign(vars);
  try {
    return await fn();
  } finally {
    assign(saved);
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Start a platform with the Ctrl-C handlers `startBenchPlatform` installs taken out once it is up:
 * they would exit as soon as that platform is stopped, before the engine is cleaned; ours stops
 * everything in order.
 */
async function startPlatform(env: Record<string, string | undefined>): Promise<BenchPlatform> {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  try {
    return await withEnv(env, () => startBenchPlatform());
  } finally {
    for (const s of SIGNALS) for (const l of process.listeners(s)) if (!before.get(s)!.has(l)) process.off(s, l);
  }
}

/**
 * A Podman API service of the benchmark's own (in a new /tmp directory, reading the machine's
 * shared image store), and two `pgfleet up` beside each other: one on the process runtime, one on
 * the docker runtime with that service as its one Docker host. Everything is stopped and removed
 * on `cleanup`, on error and on Ctrl-C.
 */
export async function startDockerBench(): Promise<DockerBench> {
  const tmp = mkdtempSync('/tmp/pgfleet-bench-docker-');
  let service: PodmanService | undefined;
  const platforms: BenchPlatform[] = [];
  const hostEnv = (socketPath: string) => ({ PGFLEET_RUNTIME: 'docker', PGFLEET_DOCKER_HOSTS: `unix://${socketPath}` });
  let cleaned: Promise<void> | undefined;
  const cleanup = () => {
    cleaned ??= (async () => {
      for (const s of SIGNALS) process.off(s, onSignal);
      const failures: unknown[] = [];
      const attempt = async (step: () => Promise<unknown>) => step().catch((e: unknown) => failures.push(e));
      const engineCleanup = async (s: PodmanService) => {
        const docker = dockerHosts(tmp, hostEnv(s.socketPath))[0]!.docker;
        // Nodes a failed run left go through the driver (container, volume, network, isolation).
        const runtime = createNodeRuntime({ home: tmp, env: hostEnv(s.socketPath), log });
        const filters = { label: ['pgfleet.role=node'] };
        for (const c of await docker.listContainers({ all: true, filters }))
          await runtime.remove(c.Labels['pgfleet.node']!);
        await removeRaw(docker);
      };
      // Nodes first: their containers write into the docker platform's home (its pgBackRest
      // repository is mounted in them), which its cleanup removes; again after, for any made meanwhile.
      if (service) await attempt(() => engineCleanup(service!));
      await Promise.all(platforms.map((p) => attempt(() => p.cleanup())));
      if (service) {
        await attempt(() => engineCleanup(service!));
        await attempt(() => service!.purge());
      }
      rmSync(tmp, { recursive: true, force: true });
      if (failures.length > 0) throw new AggregateError(failures, 'the docker benchmark did not clean up everything');
    })();
    return cleaned;
  };
  function onSignal(signal: NodeJS.Signals) {
    log(`${signal}: stopping both platforms, their clusters, the raw containers and the Podman service`);
    void cleanup().finally(() => process.exit(130));
  }
  for (const s of SIGNALS) process.on(s, onSignal);
  try {
    const { store } = await ensureNodeImageStore({ onProgress: log });
    service = await startPodmanService(join(tmp, 'podman'), { imageStore: store });
    const host = dockerHosts(tmp, hostEnv(service.socketPath))[0]!;
    const image = await ensureNodeImage(host.docker, { onProgress: log });
    log(`Podman API service ${host.name} (pid ${service.pid}), node image ${image}`);
    platforms.push(await startPlatform({ PGFLEET_RUNTIME: 'process', PGFLEET_DOCKER_HOSTS: undefined }));
    platforms.push(await startPlatform(hostEnv(service.socketPath)));
    const [processPlatform, dockerPlatform] = platforms as [BenchPlatform, BenchPlatform];
    return {
      engine: { docker: host.docker, name: host.name, image },
      processPlatform,
      dockerPlatform,
      settle: () => processPlatform.spareReady(MAJOR),
      cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
