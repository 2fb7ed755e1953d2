import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { liveProcesses } from '../../e2e/harness.js';

/** A long-running process the benchmark started, leader of its own process group, output in a log file. */
export interface Daemon {
  name: string;
  pid: number;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>;
  /** SIGTERM to its process group, SIGKILL after `graceMs`; resolves once it has ended. */
  stop(graceMs: number): Promise<void>;
}

export interface DaemonOptions {
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
}

/**
 * Spawns `cmd` detached (its own process group, so a Ctrl-C in the terminal reaches the benchmark,
 * which stops everything in order), stdout and stderr appended to `logFile`.
 */
export function startDaemon(name: string, cmd: string, args: readonly string[], options: DaemonOptions): Daemon {
  const log = openSync(options.logFile, 'a');
  const child = spawn(cmd, args, {
    cwd: options.cwd ?? '/',
    env: options.env ?? process.env,
    uid: options.uid,
    gid: options.gid,
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start ${name} (${cmd})`);
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  child.unref();
  return {
    name,
    pid,
    exited,
    async stop(graceMs) {
      signalGroup(pid, 'SIGCONT');
      signalGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Sends `name` to the process group `pgid` (a daemon and what it started in its group), if any is left. */
function signalGroup(pgid: number, name: NodeJS.Signals): void {
  if (!(pgid > 1) || pgid === processGroupOf(process.pid)) throw new Error(`refusing to signal process group ${pgid}`);
  signal(-pgid, name);
}

/** The process group of a live process, from /proc/PID/stat; undefined when it is gone. */
function processGroupOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

/** Live descendants of `pid` (children, their children...), from /proc. */
function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of liveProcesses()) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const out: number[] = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0) {
    const next = queue.shift()!;
    out.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return out;
}

/**
 * Freezes a server as a whole: SIGSTOP to the postmaster first (so it starts no new child), then
 * to every descendant, looking again until no new one shows up. A process group would not do:
 * every PostgreSQL child calls setsid(), so the postmaster's group holds the postmaster alone and
 * its backends and WAL senders would go on committing. Returns the frozen pids, for `thaw`.
 */
export function freezeTree(pid: number): number[] {
  process.kill(pid, 'SIGSTOP');
  const frozen = new Set([pid]);
  for (let round = 0; round < 5; round++) {
    const fresh = descendantsOf(pid).filter((p) => !frozen.has(p));
    if (fresh.length === 0) break;
    for (const p of fresh) {
      frozen.add(p);
      signal(p, 'SIGSTOP');
    }
  }
  return [...frozen];
}

/** SIGCONT to every process `freezeTree` stopped that is still there. */
export function thaw(pids: readonly number[]): void {
  for (const p of pids) signal(p, 'SIGCONT');
}

/** `signal` to a process and every descendant of it (teardown: wake, then kill, what is left of a server). */
export function signalTree(pid: number, name: NodeJS.Signals): void {
  for (const p of [pid, ...descendantsOf(pid)]) signal(p, name);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // it ended meanwhile
  }
}

/**
 * Live processes whose command line names a path under `dir` (daemons started with a config or
 * data directory there): the last sweep of a teardown, for what was started but not yet tracked.
 */
export function processesUnder(dir: string): number[] {
  return liveProcesses()
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p.pid}/cmdline`, 'utf8')
          .split('\0')
          .some((a) => a.includes(`${dir}/`));
      } catch {
        return false; // the process ended while we looked
      }
    })
    .map((p) => p.pid);
}

/** SIGKILL to each of `pids` still there. */
export function killAll(pids: readonly number[]): void {
  for (const p of pids) signal(p, 'SIGKILL');
}
