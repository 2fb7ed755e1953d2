/**
 * Spare data directories: a warm pool of complete initdb runs, so a new node's storage is a rename
 * instead of a 1-2 s initdb (as managed providers keep spare instances). Under a data root:
 *
 *   spares/{major}/making-{pid}-{uuid}   an initdb under way in process `pid`
 *   spares/{major}/ready-{uuid}          a finished (and fsynced) initdb, never started
 *
 * A spare is renamed to `ready-` only after its initdb exited 0, so a killed initdb never yields
 * one; a `making-` directory whose process is gone is removed by the next maker. A taker renames a
 * ready spare onto the node's empty data directory: rename(2) is atomic, so of two takers of one
 * spare exactly one gets it. Each initdb makes its own system identifier: no two nodes share one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { childEnv } from './childEnv.js';
import { pidAlive } from './fileLock.js';
import { INITDB_OPTIONS } from './initNode.js';
import { ensureOwnedDir, postgresOsUser } from './osUser.js';
import { toolchain } from './toolchain.js';

/** Ready spares the keeper holds per major version. */
export const SPARES_PER_MAJOR = 1;

const READY = 'ready-';
const MAKING = 'making-';

/** Where the spares of one major version live under a data root. */
export const sparesDir = (root: string, major: number): string => join(root, 'spares', String(major));

/** The ready spares of a major version (absolute paths); none when the directory does not exist. */
export function readySpares(root: string, major: number): string[] {
  const dir = sparesDir(root, major);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((entry) => entry.startsWith(READY))
    .map((entry) => join(dir, entry));
}

/** fsync a directory, so a rename in it survives a crash. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Rename a ready spare of `major` onto `dataDir` (empty or missing; on the same filesystem).
 * Returns false when there is none to take: none ready, every one taken by another taker first,
 * or the data directory on another filesystem (then initdb it).
 */
export async function takeSpare(root: string, major: number, dataDir: string): Promise<boolean> {
  for (const spare of readySpares(root, major)) {
    try {
      await rename(spare, dataDir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && !existsSync(spare)) continue; // another taker got it first
      if (code === 'EXDEV') return false;
      throw error;
    }
    await Promise.all([syncDir(dirname(dataDir)), syncDir(sparesDir(root, major))]);
    return true;
  }
  return false;
}

/** Remove what makers that are gone left: `making-{pid}-…` whose process no longer runs. */
function removeAbandoned(dir: string): void {
  for (const entry of readdirSync(dir)) {
    if (!entry.startsWith(MAKING)) continue;
    const pid = Number(entry.slice(MAKING.length).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) continue;
    try {
      rmSync(join(dir, entry), { recursive: true, force: true });
    } catch {
      // an orphaned initdb still writes there: the next maker tries again
    }
  }
}

/** The initdb runs of spares this process has under way: killed with their process group at its exit. */
const makers = new Set<ChildProcess>();

/** A pause that blocks: the exit handler cannot wait otherwise. */
const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Is a process of group `pgid` alive (zombies do not count)? From /proc. */
function groupAlive(pgid: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] !== 'Z' && Number(fields[2]) === pgid) return true;
    } catch {
      // it ended while we looked
    }
  }
  return false;
}

/**
 * SIGKILL every spare initdb this process runs, with its postgres children, and wait (2 s at most)
 * until they are gone. Their `making-` directories never become spares. Runs at this process's exit.
 */
export function stopMakingSpares(): void {
  const groups = [...makers].flatMap((child) => (child.pid === undefined ? [] : [child.pid]));
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 2000;
  while (groups.some(groupAlive) && Date.now() < deadline) sleepSync(10);
}

let stopsAtExit = false;

/** Where `name` is on the tools' PATH, if it is. */
function onPath(name: string): string | undefined {
  const dirs = (childEnv().PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  return dirs.map((dir) => join(dir, name)).find((file) => existsSync(file));
}

/** `nice -n 19` and `ionice -c 3` (idle I/O; `-t`: run anyway where it cannot be set), those installed. */
function lowPriority(): string[] {
  const nice = onPath('nice');
  const ionice = onPath('ionice');
  return [...(nice ? [nice, '-n', '19'] : []), ...(ionice ? [ionice, '-c', '3', '-t'] : [])];
}

/**
 * initdb at low priority as the postgres OS user, in its own process group (a Ctrl-C in a terminal
 * reaches the control plane, not it). When this process exits first it is killed, and its directory
 * left as an abandoned `making-`.
 */
function initdbAtLowPriority(major: number, dataDir: string): Promise<void> {
  const [cmd, ...args] = [...lowPriority(), toolchain(major).bin('initdb'), '-D', dataDir, ...INITDB_OPTIONS];
  const user = postgresOsUser();
  if (!stopsAtExit) {
    process.once('exit', stopMakingSpares);
    stopsAtExit = true;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, args, {
      uid: user.uid,
      gid: user.gid,
      env: childEnv(),
      cwd: '/',
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    makers.add(child);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4096)));
    child.on('error', (error) => {
      makers.delete(child);
      reject(error);
    });
    child.on('close', (code, signal) => {
      makers.delete(child);
      const lastLines = stderr.trim().split('\n').slice(-3).join(' | ');
      if (code === 0) resolve();
      else reject(new Error(`initdb of spare ${dataDir} failed (${signal ?? `exit ${code}`}): ${lastLines}`));
    });
  });
}

/**
 * Make one spare of `major` under `root` (an initdb with the options of every node, at low
 * priority), first removing the `making-` directories of makers that are gone. Returns its path.
 */
export async function makeSpare(root: string, major: number): Promise<string> {
  const dir = sparesDir(root, major);
  // The postgres OS user must reach the spare through these, as it reaches nodes through clusters/.
  for (const d of [dirname(dir), dir]) ensureOwnedDir(d, 0o711);
  removeAbandoned(dir);
  const id = randomUUID();
  const making = join(dir, `${MAKING}${process.pid}-${id}`);
  ensureOwnedDir(making);
  try {
    await initdbAtLowPriority(major, making);
    const ready = join(dir, `${READY}${id}`);
    await rename(making, ready);
    await syncDir(dir);
    return ready;
  } finally {
    rmSync(making, { recursive: true, force: true }); // what a failed or killed initdb left
  }
}

/** Keepers under way in this process, by spares directory. */
const keepers = new Map<string, Promise<void>>();

/**
 * Make spares of `major` under `root` until SPARES_PER_MAJOR are ready, one at a time: a call while
 * one is being made joins it. Resolves once that many were ready (a taker may have taken one since);
 * rejects when an initdb fails.
 */
export function keepSpares(root: string, major: number): Promise<void> {
  const key = sparesDir(root, major);
  let running = keepers.get(key);
  if (!running) {
    const fill = async () => {
      // One more than the target: a spare taken while the next was made is made again, no more.
      for (let made = 0; made <= SPARES_PER_MAJOR && readySpares(root, major).length < SPARES_PER_MAJOR; made++) {
        await makeSpare(root, major);
      }
    };
    running = fill().finally(() => keepers.delete(key));
    keepers.set(key, running);
  }
  return running;
}
