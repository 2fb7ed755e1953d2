import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from '@pgfleet/postgres';

/** Who holds a home: the pid of its `pgfleet up`, and when that process started (pids are reused). */
interface Holder {
  pid: number;
  startedAt: string | null;
}

export interface HomeLock {
  release(): void;
}

/** A home in use by another `pgfleet up`: one sentence naming it. */
export class HomeInUse extends Error {
  readonly code = 'HOME_IN_USE';
  constructor(
    readonly home: string,
    readonly holder: number,
    apiPort?: number,
  ) {
    const api = apiPort ? `, API at http://127.0.0.1:${apiPort}` : '';
    super(
      `pgfleet is already running on ${home} (pid ${holder}${api}); ` +
        'stop it first (Ctrl-C in its terminal) or choose another PGFLEET_HOME',
    );
    this.name = 'HomeInUse';
  }
}

/** The start time of a process (field 22 of /proc/PID/stat, clock ticks since boot); null off Linux. */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function readHolder(file: string): Holder | undefined {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Partial<Holder>;
    return typeof h.pid === 'number' ? { pid: h.pid, startedAt: h.startedAt ?? null } : undefined;
  } catch {
    return undefined; // being written, or cut by a crash
  }
}

/** Is the holder still the process that took the lock (alive, and not a later process with its pid)? */
const holding = (h: Holder) => pidAlive(h.pid) && (h.startedAt === null || startTimeOf(h.pid) === h.startedAt);

/**
 * Take `$PGFLEET_HOME/pgfleet.lock` for this process, before anything of the platform is started:
 * an exclusive file (O_EXCL) with our pid and start time. A lock whose holder is gone is taken over;
 * a live holder makes it throw HomeInUse, and nothing of the home has been touched.
 */
export function lockHome(home: string, apiPort?: () => number | undefined): HomeLock {
  const file = join(home, 'pgfleet.lock');
  const me: Holder = { pid: process.pid, startedAt: startTimeOf(process.pid) };
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, `${JSON.stringify(me)}\n`);
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 20) throw error;
      const holder = readHolder(file);
      if (holder && holding(holder)) throw new HomeInUse(home, holder.pid, apiPort?.());
      // Gone (or half-written by a starter that is itself writing it: look again a moment later).
      if (!holder && attempt < 3) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
        continue;
      }
      // Take over a dead holder's lock, unless another starter took it over meanwhile.
      const again = readHolder(file);
      if (again && holder && (again.pid !== holder.pid || again.startedAt !== holder.startedAt)) continue;
      rmSync(file, { force: true });
    }
  }
  return {
    release: () => {
      const holder = readHolder(file);
      if (holder?.pid === me.pid && holder.startedAt === me.startedAt) rmSync(file, { force: true });
    },
  };
}
