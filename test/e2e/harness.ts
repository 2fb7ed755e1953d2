import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { up, type Platform } from '@pgfleet/api';
import { busAuthFromEnv, connectBus } from '@pgfleet/bus';
import { freePort, ownedTempDir } from '@pgfleet/postgres';
import { localEventstoreUrl, scanWatched, unwatchPlatform, watchPlatform } from './logScan.js';

const require = createRequire(import.meta.url);
export const CLI = join(dirname(require.resolve('@pgfleet/api')), 'cli.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestPlatform {
  home: string;
  env: NodeJS.ProcessEnv;
  platform: Platform;
  /** What `up` printed, then every service's output (`[name] chunk`) and the CLI's stderr. */
  logs: string[];
  /** Run the real `pgfleet` CLI as a user would. */
  cli(...args: string[]): Promise<CliResult>;
  /**
   * Connect to the platform's NATS server (closed by default) as one of its users: `platform` (the
   * API's rights: send commands, read events) unless told otherwise.
   */
  connectNats(name: string, user?: string): Promise<NatsConnection>;
  /** Stop the platform (not the clusters) and start it again on the same home. */
  restart(): Promise<void>;
  /** Stop everything, clusters included, and remove the home. */
  cleanup(): Promise<void>;
}

/** A temp home the postgres OS user can reach, and the environment of a platform on free ports in it. */
export async function platformEnv(extraEnv: NodeJS.ProcessEnv = {}): Promise<{ home: string; env: NodeJS.ProcessEnv }> {
  const home = await ownedTempDir('pgfleet-e2e-');
  chmodSync(home, 0o755);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PGFLEET_HOME: home,
    PGFLEET_NATS_PORT: String(await freePort()),
    PGFLEET_EVENTSTORE_PORT: String(await freePort()),
    PGFLEET_API_PORT: String(await freePort()),
    PGFLEET_HA_AGENT_PORT: String(await freePort()),
    PGFLEET_LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  return { home, env };
}

/** A whole pgfleet platform (NATS, event store, relay, services, API) on free ports in a temp home. */
export async function startPlatform(extraEnv: NodeJS.ProcessEnv = {}): Promise<TestPlatform> {
  const { home, env } = await platformEnv(extraEnv);
  const logs: string[] = [];
  const log = (m: string) => logs.push(m);
  // Services print into `logs`, not the terminal: the log scan reads them.
  const options = { output: (service: string, chunk: string) => logs.push(`[${service}] ${chunk}`) };
  let platform: Platform | undefined;
  watchPlatform(home, {
    output: () => [{ source: 'the output of up and the services', text: logs.join('\n') }],
    eventstoreUrl: () => platform?.eventstoreUrl,
  });
  platform = await up(env, log, options);
  const t: TestPlatform = {
    home,
    env,
    logs,
    platform,
    cli: async (...args) => {
      const r = await runCli(env, args);
      // Its stdout is for the user (`cluster url` prints a password); its errors are scanned.
      if (r.stderr) logs.push(`[cli ${args[0] ?? ''}] ${r.stderr}`);
      return r;
    },
    connectNats: async (name, user = 'platform') =>
      connectBus({ servers: t.platform.natsUrl, name, ...busAuthFromEnv(await t.platform.natsEnv(user)) }),
    restart: async () => {
      await t.platform.stop();
      platform = undefined;
      t.platform = platform = await up(env, log, options);
    },
    cleanup: async () => {
      try {
        await scanWatched(home);
      } finally {
        unwatchPlatform(home);
        await t.platform.stop().catch(() => undefined);
        stopClusterServers(home);
        rmSync(home, { recursive: true, force: true });
      }
    },
  };
  return t;
}

/** `pgfleet up` as a real process, leader of its own process group (so a test can Ctrl-C the whole group). */
export interface UpProcess {
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with its exit code (or signal) once it exited. */
  exited: Promise<number | string | null>;
  /** SIGINT to the whole process group, as Ctrl-C in its terminal does. */
  ctrlC(): void;
}

export function spawnUp(env: NodeJS.ProcessEnv): UpProcess {
  const child = spawn(process.execPath, [CLI, 'up'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const home = env.PGFLEET_HOME;
  // Its output (its services print through it) is scanned for secrets until its home is removed.
  if (home)
    watchPlatform(home, {
      output: () => [{ source: 'the output of pgfleet up', text: out }],
      eventstoreUrl: () => localEventstoreUrl(home),
    });
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  return { child, output: () => out, exited, ctrlC: () => process.kill(-child.pid!, 'SIGINT') };
}

/** Start `pgfleet up` and wait until it says it is up (or fails with what it printed). */
export async function startUp(env: NodeJS.ProcessEnv): Promise<UpProcess> {
  const up = spawnUp(env);
  await waitFor(
    'pgfleet is up',
    () => {
      if (up.output().includes('pgfleet is up')) return true;
      if (up.child.exitCode !== null) throw new Error(`pgfleet up exited (${up.child.exitCode}): ${up.output()}`);
      return undefined;
    },
    90_000,
  );
  return up;
}

/** A live process read from /proc: its pid, command name, parent and process group. */
export interface ProcEntry {
  pid: number;
  comm: string;
  ppid: number;
  pgid: number;
}

/** Every live process (zombies excluded), from /proc; a process that ends while it is read is skipped. */
export function liveProcesses(): ProcEntry[] {
  const out: ProcEntry[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      out.push({ pid, comm, ppid: Number(fields[1]), pgid: Number(fields[2]) });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** Every process of a process group still alive (zombies excluded), from /proc. */
export function processGroupMembers(pgid: number): number[] {
  return liveProcesses()
    .filter((p) => p.pgid === pgid)
    .map((p) => p.pid);
}

/** Stop what a test left of a home: cluster servers and gateways; then remove it. */
export function removeHome(home: string): void {
  unwatchPlatform(home);
  stopClusterServers(home);
  rmSync(home, { recursive: true, force: true });
}

export function runCli(env: NodeJS.ProcessEnv, args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Run the real psql client; resolves with its trimmed stdout, rejects with its stderr. */
export function psql(url: string, sql: string): string {
  const r = spawnSync('psql', [url, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** Data directories of a home's cluster nodes. */
export function nodeDataDirs(home: string, clusterId?: string): string[] {
  const root = join(home, 'clusters');
  if (!existsSync(root)) return [];
  const clusters = clusterId ? [clusterId] : readdirSync(root);
  return clusters
    .flatMap((c) => (existsSync(join(root, c)) ? readdirSync(join(root, c)).map((n) => join(root, c, n, 'data')) : []))
    .filter((d) => existsSync(d));
}

/** Live postmasters (not backends) whose working directory is under `dir`: real servers, counted from /proc. */
export function postmastersUnder(dir: string): number[] {
  const procs = liveProcesses();
  const comm = new Map(procs.map((p) => [p.pid, p.comm]));
  return procs
    .filter((p) => p.comm === 'postgres' && comm.get(p.ppid) !== 'postgres')
    .filter((p) => {
      try {
        return readlinkSync(`/proc/${p.pid}/cwd`).startsWith(dir);
      } catch {
        return false; // the process ended while we looked
      }
    })
    .map((p) => p.pid);
}

/** Live HAProxy gateway processes whose config lives under `dir` (from /proc cmdline). */
export function gatewaysUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('haproxy') && argv.some((a) => a.startsWith(`${dir}/`))) pids.push(pid);
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

function stopClusterServers(home: string): void {
  for (const pid of gatewaysUnder(home)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const pid of postmastersUnder(home)) {
    try {
      process.kill(pid, 'SIGQUIT');
    } catch {
      /* gone */
    }
  }
  const deadline = Date.now() + 10_000;
  while (postmastersUnder(home).length > 0 && Date.now() < deadline) spawnSync('sleep', ['0.1']);
  for (const pid of postmastersUnder(home)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** An acknowledged commit of a write load: which writer, its sequence number, when. */
interface Ack {
  client: number;
  seq: number;
  at: number;
}

let loads = 0;

/**
 * `clients` writers through `url` (into a table `acked (client int, seq int, PRIMARY KEY (client, seq))`
 * the caller made), each logging every acknowledged commit and every failed one; a writer whose
 * connection fails connects again.
 */
export function writeLoad(url: string, clients = 8) {
  const first = 100 * loads++; // client numbers of their own: rows of an earlier load stay unique
  const acks: Ack[] = [];
  const errors: string[] = [];
  let stopped = false;
  const run = async (client: number) => {
    let seq = 0;
    while (!stopped) {
      const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000, query_timeout: 5000 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        while (!stopped) {
          seq += 1;
          await c.query('INSERT INTO acked (client, seq) VALUES ($1, $2)', [client, seq]);
          acks.push({ client, seq, at: Date.now() });
        }
      } catch (error) {
        errors.push(`${new Date().toISOString()} client ${client}: ${(error as Error).message}`);
        await sleep(50);
      } finally {
        await Promise.race([c.end().catch(() => undefined), sleep(500)]);
      }
    }
  };
  const loops = Array.from({ length: clients }, (_, i) => run(first + i));
  return {
    acks,
    errors,
    /** The longest time one client went without an acknowledged write. */
    longestGapMs(): number {
      let longest = 0;
      for (let client = first; client < first + clients; client++) {
        const at = acks.filter((a) => a.client === client).map((a) => a.at);
        for (let i = 1; i < at.length; i++) longest = Math.max(longest, at[i]! - at[i - 1]!);
      }
      return longest;
    },
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}
