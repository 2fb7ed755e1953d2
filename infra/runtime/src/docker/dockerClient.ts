import { createRequire } from 'node:module';
import type Docker from 'dockerode';

const require = createRequire(import.meta.url);

/**
 * A Docker Engine API client. dockerode (and ssh2 under it, ~140 ms to load) is loaded at the
 * first call, so a process that only uses the process runtime never pays for it.
 */
export function dockerClient(options: Docker.DockerOptions): Docker {
  const DockerClient = require('dockerode') as typeof Docker;
  return new DockerClient(options);
}
