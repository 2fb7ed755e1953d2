import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { childEnv, withFileLock } from '@pgfleet/postgres';
import { DEFAULT_CACHE, type NodeImageOptions, nodeImageTag, rootfsTarball } from './images.js';

/**
 * A shared image store for Podman services on this machine: a containers-storage directory that
 * holds the node image, imported once with the podman CLI. A service started with it as its
 * `imageStore` (an additional, read-only image store) sees the image at once, so a new service (a
 * test's, a second stand-in Docker host) needs no import of its own: an API import takes 12-30 s.
 */
const DEFAULT_STORE = '/var/cache/pgfleet/podman-images';

export interface NodeImageStoreOptions extends NodeImageOptions {
  /** The store's directory (default /var/cache/pgfleet/podman-images). */
  store?: string;
}

/** Run the podman CLI on the store: its exit code and last stderr line. */
function podman(store: string, args: readonly string[]): Promise<{ code: number | null; error: string }> {
  const global = [
    ...['--root', store, '--runroot', join(store, '.run'), '--tmpdir', join(store, '.tmp')],
    ...['--events-backend', 'none', '--cgroup-manager', 'cgroupfs'],
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('podman', [...global, ...args], { env: childEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4096)));
    child.on('error', (e) => reject(new Error(`podman could not run: ${e.message}`)));
    child.on('close', (code) => resolve({ code, error: err.trim().split('\n').pop() ?? '' }));
  });
}

/**
 * The node image in the shared store, imported from the cached root filesystem (built first when
 * the cache lacks it) unless it is there; one importer at a time. Resolves with the store and the
 * image's tag (`nodeImageTag()`), which `ensureNodeImage` then finds on a service using the store.
 */
export async function ensureNodeImageStore(
  options: NodeImageStoreOptions = {},
): Promise<{ store: string; tag: string }> {
  const store = options.store ?? DEFAULT_STORE;
  const tag = nodeImageTag();
  const progress = options.onProgress ?? (() => undefined);
  const has = async () => (await podman(store, ['image', 'exists', `localhost/${tag}`])).code === 0;
  mkdirSync(store, { recursive: true, mode: 0o755 });
  if (await has()) return { store, tag };
  return withFileLock(
    join(store, '.import.lock'),
    async () => {
      if (await has()) return { store, tag }; // imported by the holder before us
      const tarball = await rootfsTarball(options.cacheDir ?? DEFAULT_CACHE, tag.split(':')[1]!, progress);
      progress(`image: importing ${tarball} into the image store ${store}`);
      const imported = await podman(store, ['import', tarball, `localhost/${tag}`]);
      if (imported.code !== 0) throw new Error(`podman import failed (exit ${imported.code}): ${imported.error}`);
      progress(`image: ${tag} ready in ${store}`);
      return { store, tag };
    },
    30 * 60_000,
  );
}
