import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { generatePassword, INITDB_OPTIONS } from '@pgfleet/postgres';
import { execIn, IN_CONTAINER, startExec } from './containers.js';
import { shq } from './scriptIn.js';

/**
 * The docker driver's spare data directories: a node's `initialize` unpacks a ready initdb (a
 * gzip'ed tar, a few MB, kept in this process's memory with the superuser password it was made
 * with) instead of running initdb (1-2 s). A spare is made by initdb in the runtime's tool container
 * (the node image, no network; at nice 19), in a temporary directory removed after; each is used once, so no
 * two nodes share a system identifier or a password. Only a runtime asked to `warm` a major keeps
 * spares of it (provisioning does at its start); nothing is left on disk or on the host.
 */

interface Spare {
  tgz: Buffer;
  password: string;
}

export interface DockerSpares {
  /** Keep one spare of `major` ready from now on; resolves once one is. Rejects with initdb's reason. */
  warm(major: number): Promise<void>;
  /**
   * Fill the container's empty data directory from a ready spare of `major` (`keepPassword` first
   * records its superuser password), then make the next spare in the background. False when none
   * was ready, or unpacking it failed: the caller runs initdb.
   */
  fill(c: Docker.Container, major: number, keepPassword: (password: string) => Promise<void>): Promise<boolean>;
}

/** initdb (every node's options) in a temporary directory of `c`, its files as a gzip'ed tar. */
async function makeSpare(docker: Docker, c: Docker.Container, major: number): Promise<Spare> {
  const password = generatePassword();
  const initdb = `/usr/lib/postgresql/${major}/bin/initdb`;
  const script = [
    'set -e',
    'umask 077',
    'd=$(mktemp -d /tmp/pgfleet-spare.XXXXXX)',
    `trap 'rm -rf "$d"' EXIT`,
    'cat > "$d/pw"',
    `nice -n 19 ${initdb} -D "$d/data" ${INITDB_OPTIONS.map(shq).join(' ')} --pwfile="$d/pw" >/dev/null`,
    'rm -f "$d/pw"',
    'nice -n 19 tar -C "$d/data" -czf - .',
  ].join('\n');
  const chunks: Buffer[] = [];
  const out = new PassThrough();
  out.on('data', (d: Buffer) => chunks.push(d));
  const run = await startExec(docker, c, ['sh', '-c', script], { input: `${password}\n`, onStdout: out });
  const r = await run.result;
  if (r.code !== 0) {
    const lines = r.stderr.trim().split('\n').slice(-3).join(' | ');
    throw new Error(`initdb of a spare data directory failed (exit ${r.code}): ${lines}`);
  }
  await new Promise((resolve) => setImmediate(resolve));
  return { tgz: Buffer.concat(chunks), password };
}

/** The spares of one driver, made in its tool container (`tool`); `log` hears why one could not be made. */
export function dockerSpares(
  docker: Docker,
  tool: () => Promise<Docker.Container>,
  log: (line: string) => void,
): DockerSpares {
  const ready = new Map<number, Spare>();
  const making = new Map<number, Promise<void>>();
  const wanted = new Set<number>();
  const make = (major: number): Promise<void> => {
    let made = making.get(major);
    if (!made) {
      made = (async () => {
        ready.set(major, await makeSpare(docker, await tool(), major));
      })().finally(() => making.delete(major));
      making.set(major, made);
    }
    return made;
  };
  const refill = (major: number) => {
    if (!wanted.has(major) || ready.has(major)) return;
    make(major).catch((e: unknown) => log(`docker driver: no spare data directory of ${major}: ${String(e)}`));
  };
  return {
    async warm(major) {
      wanted.add(major);
      if (!ready.has(major)) await make(major);
    },
    async fill(c, major, keepPassword) {
      const spare = ready.get(major);
      ready.delete(major);
      refill(major);
      if (!spare) return false;
      await keepPassword(spare.password);
      const { dataDir } = IN_CONTAINER;
      const unpack = `find ${dataDir} -mindepth 1 -delete && tar -C ${dataDir} -xzpf -`;
      const r = await execIn(docker, c, ['sh', '-c', unpack], { input: spare.tgz });
      if (r.code === 0) return true;
      log(`docker driver: a spare data directory did not unpack (${r.stderr.trim()}); running initdb`);
      return false;
    },
  };
}
