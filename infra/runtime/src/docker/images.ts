import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type Docker from 'dockerode';
import { childEnv, withFileLock } from '@pgfleet/postgres';
import { debianMirrors } from './mirrors.js';

/**
 * The node image: PostgreSQL 13 (from bullseye, pinned as on the host) and 15, pgBackRest, HAProxy
 * and OpenSSL on Debian bookworm, made with mmdebstrap from the system's own Debian mirrors (no
 * image registry is reachable). Changing anything here changes the tag, so the image is rebuilt.
 */
const NODE_IMAGE_RECIPE = {
  name: 'pgfleet-node',
  revision: 1,
  suite: 'bookworm',
  variant: 'apt',
  packages: [
    'postgresql-15',
    'postgresql-13',
    'postgresql-contrib',
    'pgbackrest',
    'haproxy',
    'ca-certificates',
    'openssl',
    'procps',
  ],
  /** Only these come from bullseye (what PostgreSQL 13 needs that bookworm lacks); nothing else does. */
  bullseyePackages: [
    'postgresql-13',
    'postgresql-client-13',
    'libllvm11',
    'libicu67',
    'libssl1.1',
    'libldap-2.4-2',
    'libffi7',
  ],
  /** Left out of the image to keep it small. */
  pathExcludes: ['/usr/share/doc/*', '/usr/share/man/*', '/usr/share/locale/*', '/usr/share/info/*'],
} as const;

/** `pgfleet-node:{12 hex digits of the recipe's hash}`. */
export function nodeImageTag(recipe = NODE_IMAGE_RECIPE): string {
  return `${recipe.name}:${createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 12)}`;
}

export interface NodeImageOptions {
  /** Where built root filesystems are kept between runs (default /var/cache/pgfleet/images). */
  cacheDir?: string;
  /** One line per step (mmdebstrap's progress, the import). */
  onProgress?: (line: string) => void;
}

export const DEFAULT_CACHE = '/var/cache/pgfleet/images';

/** apt's pin, as the host's bootstrap writes it: bullseye only for PostgreSQL 13 and its libraries. */
function bullseyePin(packages: readonly string[]): string {
  const stanza = (release: string, pkgs: string, priority: number) =>
    `Package: ${pkgs}\nPin: release n=${release}\nPin-Priority: ${priority}\n`;
  return [
    stanza('bullseye', '*', -1),
    stanza('bullseye-security', '*', -1),
    stanza('bullseye', packages.join(' '), 100),
    stanza('bullseye-security', packages.join(' '), 100),
  ].join('\n');
}

/** Run mmdebstrap into `out` (a .tar), its "I:" lines to `progress`; rejects with its last lines. */
function mmdebstrap(out: string, overlay: string, progress: (line: string) => void): Promise<void> {
  const recipe = NODE_IMAGE_RECIPE;
  const { main, security } = debianMirrors();
  const sources = [
    `deb ${main} bookworm main`,
    `deb ${main} bookworm-updates main`,
    `deb ${security} bookworm-security main`,
    `deb ${main} bullseye main`,
    `deb ${security} bullseye-security main`,
  ];
  const args = [
    `--variant=${recipe.variant}`,
    `--include=${recipe.packages.join(',')}`,
    `--setup-hook=sync-in ${overlay} /`,
    ...recipe.pathExcludes.map((p) => `--dpkgopt=path-exclude=${p}`),
    recipe.suite,
    out,
    ...sources,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('mmdebstrap', args, { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const onLine = (line: string) => {
      tail.push(line);
      if (tail.length > 5) tail.shift();
      if (line.startsWith('I: ')) progress(`image: ${line.slice(3)}`);
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.on('error', (e) => reject(new Error(`mmdebstrap could not run: ${e.message}`)));
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`mmdebstrap failed (exit ${code}): ${tail.join(' | ')}`)),
    );
  });
}

/** The root filesystem tarball of the recipe in `cacheDir`, built when missing (one builder at a time). */
export async function rootfsTarball(cacheDir: string, hash: string, progress: (line: string) => void): Promise<string> {
  const tarball = join(cacheDir, `${NODE_IMAGE_RECIPE.name}-${hash}.tar`);
  if (existsSync(tarball)) return tarball;
  mkdirSync(cacheDir, { recursive: true, mode: 0o755 });
  return withFileLock(
    join(cacheDir, '.build.lock'),
    async () => {
      if (existsSync(tarball)) return tarball; // built by the holder before us
      const scratch = mkdtempSync(join(cacheDir, '.build-'));
      try {
        const overlay = join(scratch, 'root');
        mkdirSync(join(overlay, 'etc/apt/preferences.d'), { recursive: true });
        mkdirSync(join(overlay, 'etc/postgresql-common/createcluster.d'), { recursive: true });
        writeFileSync(
          join(overlay, 'etc/apt/preferences.d/pgfleet-bullseye'),
          bullseyePin(NODE_IMAGE_RECIPE.bullseyePackages),
        );
        // pgfleet runs its own servers: no default 'main' cluster from the Debian packages.
        writeFileSync(
          join(overlay, 'etc/postgresql-common/createcluster.d/pgfleet.conf'),
          'create_main_cluster = false\n',
        );
        const out = join(scratch, 'rootfs.tar');
        progress(`image: building ${NODE_IMAGE_RECIPE.name}-${hash} with mmdebstrap`);
        await mmdebstrap(out, overlay, progress);
        renameSync(out, tarball);
        return tarball;
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    },
    30 * 60_000,
  );
}

/**
 * The node image on `docker`, tagged `nodeImageTag()`: found by its tag, else imported from the
 * cached root filesystem, which is built first when the cache lacks it. Resolves with the tag.
 */
export async function ensureNodeImage(docker: Docker, options: NodeImageOptions = {}): Promise<string> {
  const tag = nodeImageTag();
  const progress = options.onProgress ?? (() => undefined);
  try {
    await docker.getImage(tag).inspect();
    return tag;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
  const [repo, hash] = tag.split(':') as [string, string];
  const tarball = await rootfsTarball(options.cacheDir ?? DEFAULT_CACHE, hash, progress);
  progress(`image: importing ${tarball}`);
  const stream = await docker.importImage(createReadStream(tarball));
  const id = await importedId(stream);
  await docker.getImage(id).tag({ repo, tag: hash });
  progress(`image: ${tag} ready`);
  return tag;
}

/** The image id an import answers with (its JSON messages carry it as `status` or `id`). */
async function importedId(stream: NodeJS.ReadableStream): Promise<string> {
  let body = '';
  for await (const chunk of stream) body += chunk.toString();
  for (const line of body.split('\n')) {
    if (!line.trim()) continue;
    const m = JSON.parse(line) as { id?: string; status?: string; error?: string };
    if (m.error) throw new Error(`image import failed: ${m.error}`);
    const id = m.id ?? m.status;
    if (id?.startsWith('sha256:')) return id;
  }
  throw new Error(`image import answered no image id: ${body.slice(0, 200)}`);
}
