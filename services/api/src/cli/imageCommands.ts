import type { Command } from 'commander';
import { platformHome } from '../platform/home.js';
import { CliError } from './client.js';

type Out = (human: string, json: unknown) => void;

/**
 * `pgfleet images build`: the docker runtime's node image (PostgreSQL 13 and 15, pgBackRest,
 * HAProxy), built from Debian packages with mmdebstrap when the cache lacks it, then made available
 * where the nodes run: on every host of PGFLEET_DOCKER_HOSTS, else in the machine's shared image
 * store that the Podman service of `pgfleet up` reads. Found, it is only reported. Progress lines go
 * to stdout (stderr with --json).
 */
export function registerImageCommands(program: Command, out: (opts: { json?: boolean }) => Out): void {
  const images = program.command('images').description("the docker runtime's node image");
  images
    .command('build')
    .description('build (or find) the node image where the docker runtime runs nodes, with progress')
    .option('--json')
    .action(async (o: { json?: boolean }) => {
      const { dockerHosts, ensureNodeImage, ensureNodeImageStore, RuntimeSelectionError } = await import(
        '@pgfleet/runtime'
      );
      const progress = (line: string) => (o.json ? process.stderr : process.stdout).write(`${line}\n`);
      if (process.env.PGFLEET_DOCKER_HOSTS?.trim()) {
        const hosts = (() => {
          try {
            return dockerHosts(platformHome(), process.env);
          } catch (e) {
            throw e instanceof RuntimeSelectionError ? new CliError(e.message, 'INVALID_DOCKER_HOSTS') : e;
          }
        })();
        const ready: { host: string; image: string }[] = [];
        for (const h of hosts) {
          progress(`${h.name}: looking for the node image`);
          ready.push({ host: h.name, image: await ensureNodeImage(h.docker, { onProgress: progress }) });
        }
        const image = ready[0]!.image;
        out(o)(`image ${image} ready on ${ready.map((r) => r.host).join(', ')}`, { image, hosts: ready });
        return;
      }
      const { store, tag } = await ensureNodeImageStore({ onProgress: progress });
      out(o)(`image ${tag} ready in the image store ${store}`, { image: tag, store });
    });
}
