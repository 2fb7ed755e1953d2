import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { dockerClient } from './docker/dockerClient.js';

/** A Docker Engine API endpoint the docker driver may place nodes on. */
export interface DockerHost {
  /** As listed in PGFLEET_DOCKER_HOSTS (`unix:///run/podman.sock`, `tcp://10.0.0.5:2376`): what events record. */
  name: string;
  docker: Docker;
}

/** A runtime setting the environment gets wrong: one sentence naming the variable. */
export class RuntimeSelectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuntimeSelectionError';
  }
}

export type RuntimeKind = 'process' | 'docker';

/** PGFLEET_RUNTIME: `process` (default, also when empty) or `docker`; anything else is refused. */
export function runtimeKind(env: NodeJS.ProcessEnv = process.env): RuntimeKind {
  const kind = env.PGFLEET_RUNTIME?.trim() || 'process';
  if (kind === 'process' || kind === 'docker') return kind;
  throw new RuntimeSelectionError(`PGFLEET_RUNTIME must be "process" or "docker", not "${kind}"`);
}

/** Where `pgfleet up` runs its own Podman API service when PGFLEET_DOCKER_HOSTS is unset. */
export const localPodmanDir = (home: string): string => join(home, 'podman');

/** The TLS files of every `tcp://` host: PGFLEET_DOCKER_TLS_CA, _CERT and _KEY (PEM files). */
function tlsFiles(env: NodeJS.ProcessEnv, host: string): { ca: Buffer; cert: Buffer; key: Buffer } {
  const names = ['PGFLEET_DOCKER_TLS_CA', 'PGFLEET_DOCKER_TLS_CERT', 'PGFLEET_DOCKER_TLS_KEY'] as const;
  const missing = names.filter((n) => !env[n]);
  if (missing.length > 0) {
    throw new RuntimeSelectionError(
      `PGFLEET_DOCKER_HOSTS: ${host} needs ${missing.join(', ')} (the Docker API over TCP is only used with TLS)`,
    );
  }
  const read = (name: (typeof names)[number]) => {
    try {
      return readFileSync(env[name]!);
    } catch (e) {
      throw new RuntimeSelectionError(`${name}: cannot read ${env[name]} (${(e as Error).message})`);
    }
  };
  return { ca: read(names[0]), cert: read(names[1]), key: read(names[2]) };
}

function hostOf(name: string, env: NodeJS.ProcessEnv): DockerHost {
  const unix = /^unix:\/\/(\/.+)$/.exec(name);
  if (unix) return { name, docker: dockerClient({ socketPath: unix[1]! }) };
  const tcp = /^tcp:\/\/([^:/]+):(\d{1,5})$/.exec(name);
  if (tcp) {
    const port = Number(tcp[2]);
    if (port < 1 || port > 65535) throw new RuntimeSelectionError(`PGFLEET_DOCKER_HOSTS: ${name} has no valid port`);
    return { name, docker: dockerClient({ host: tcp[1]!, port, protocol: 'https', ...tlsFiles(env, name) }) };
  }
  throw new RuntimeSelectionError(
    `PGFLEET_DOCKER_HOSTS: "${name}" is neither unix:///path/to/socket nor tcp://host:port`,
  );
}

/**
 * The Docker hosts of the docker runtime: PGFLEET_DOCKER_HOSTS (comma-separated `unix:///path` or
 * `tcp://host:port`, the latter with TLS), else the local Podman API service `pgfleet up` starts
 * under `$PGFLEET_HOME/podman`.
 */
export function dockerHosts(home: string, env: NodeJS.ProcessEnv = process.env): DockerHost[] {
  const listed = (env.PGFLEET_DOCKER_HOSTS ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h.length > 0);
  if (listed.length === 0) return [hostOf(`unix://${join(localPodmanDir(home), 'podman.sock')}`, env)];
  const seen = new Set<string>();
  return listed.map((name) => {
    if (seen.has(name)) throw new RuntimeSelectionError(`PGFLEET_DOCKER_HOSTS lists ${name} twice`);
    seen.add(name);
    return hostOf(name, env);
  });
}
