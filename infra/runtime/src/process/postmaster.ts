import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { nodeLogFile } from '@pgfleet/postgres';

/** Lines of postmaster.pid: pid, data dir, start time, port, socket dir, listen addr, shmem key, status. */
interface PostmasterPid {
  pid: number;
  dataDir: string;
  port: number;
}

function readPostmasterPid(dataDir: string): PostmasterPid | undefined {
  const file = join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  try {
    const lines = readFileSync(file, 'utf8').split('\n');
    const pid = Number(lines[0]);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    return { pid, dataDir: lines[1] ?? '', port: Number(lines[3]) };
  } catch {
    return undefined;
  }
}

const real = (p: string) => {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
};

/** Is `pid` a live postgres process working in `dataDir` (postgres chdirs into its data dir)? */
function isPostgresOf(pid: number, dataDir: string): boolean {
  try {
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    if (comm !== 'postgres' && comm !== 'postmaster') return false;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
    return readlinkSync(`/proc/${pid}/cwd`) === real(dataDir);
  } catch {
    return false;
  }
}

/** The running postmaster of a data directory, from postmaster.pid checked against /proc. */
export function livePostmaster(dataDir: string): number | undefined {
  const pm = readPostmasterPid(dataDir);
  return pm && isPostgresOf(pm.pid, dataDir) ? pm.pid : undefined;
}

/** Every postgres process (postmaster or orphaned backend) still working in `dataDir`. */
export function processesIn(dataDir: string): number[] {
  const dir = real(dataDir);
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid !== process.pid && isPostgresOf(pid, dir)) pids.push(pid);
  }
  return pids;
}

/** Wait until no postgres process works in `dataDir`; SIGKILL stragglers after `graceMs`. */
export async function waitForNoProcesses(dataDir: string, graceMs = 10000): Promise<void> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    const pids = processesIn(dataDir);
    if (pids.length === 0) return;
    if (Date.now() > deadline + 10000)
      throw new Error(`postgres processes ${pids.join(', ')} in ${dataDir} survive SIGKILL`);
    if (Date.now() > deadline) {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * SIGKILL every process other than postgres itself (initdb, cp, pg_basebackup, pg_ctl, pgbackrest)
 * still working on `dir`: named in its arguments or running in it. Those a killed control-plane
 * service left behind would otherwise write into a node made anew at the same place.
 */
export function killToolsOn(dir: string): number[] {
  const root = real(dir);
  const names = (arg: string) => [root, dir].some((d) => arg.endsWith(d) || arg.includes(`${d}/`));
  const killed: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (comm === 'postgres' || comm === 'postmaster') continue;
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (!args.some(names) && cwd !== root && !cwd.startsWith(`${root}/`)) continue;
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      /* ended meanwhile, or not ours to read */
    }
  }
  return killed;
}

const tail = (file: string, lines: number): string => {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join(' | ');
  } catch {
    return '';
  }
};

/**
 * Why a server did not start: errors before its logging collector starts land in pg_ctl's log,
 * later ones in the server log; else what pg_ctl printed.
 */
export function whyNotStarted(pgCtlLog: string, dataDir: string, pgCtlOutput: string): string {
  const early = tail(pgCtlLog, 3);
  const late = early && !early.includes('redirecting log output') ? early : tail(nodeLogFile(dataDir), 3);
  return late || pgCtlOutput.trim();
}
