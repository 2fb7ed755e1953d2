import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

export interface NatsServerOptions {
  port: number;
  /** JetStream file storage directory. */
  storeDir: string;
  host?: string;
  /** A nats.conf to use instead of command-line settings (TLS, accounts, permissions). */
  configFile?: string;
  binary?: string;
  /**
   * The server's whole environment (the platform passes @pgfleet/postgres's childEnv()); by
   * default only PATH: never a copy of the caller's, whose secrets /proc/PID/environ would show.
   */
  env?: Record<string, string>;
}

export interface NatsServerHandle {
  url: string;
  port: number;
  readonly pid: number | undefined;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit (chaos tests). */
  kill9(): Promise<void>;
  /** Start again on the same port and store after a stop or a kill. */
  restart(): Promise<void>;
}

/**
 * A real `nats-server` with JetStream, as a child process (the embedded default and the test harness).
 * It runs in a process group of its own, so a terminal's Ctrl-C (SIGINT to the foreground group)
 * does not stop it before the services that use it have closed their connections: its owner stops
 * it, last. It is killed when the owner's process exits, and a server an owner killed -9 left
 * running on the same store (its pid file names it) is stopped before a new one starts.
 */
export async function startNatsServer(opts: NatsServerOptions): Promise<NatsServerHandle> {
  const host = opts.host ?? '127.0.0.1';
  mkdirSync(opts.storeDir, { recursive: true });
  const pidFile = join(opts.storeDir, 'nats-server.pid');
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const killOnExit = () => child?.kill('SIGKILL');

  const launch = async () => {
    await stopStale(pidFile);
    const args = opts.configFile
      ? ['-c', opts.configFile]
      : ['-a', host, '-p', String(opts.port), '-js', '-sd', opts.storeDir];
    const env = opts.env ?? { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    const proc = spawn(opts.binary ?? 'nats-server', [...args, '-P', pidFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env,
      detached: true,
    });
    child = proc;
    process.once('exit', killOnExit);
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    exited = new Promise((resolve) =>
      proc.once('exit', () => {
        process.off('exit', killOnExit);
        resolve();
      }),
    );
    const deadline = Date.now() + 15000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`nats-server exited: ${stderr.trim().split('\n').pop()}`);
      if (await canConnect(opts.port, host)) return;
      if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${host}:${opts.port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const signal = async (sig: NodeJS.Signals) => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill(sig);
      await exited;
    }
  };
  await launch();
  return {
    url: `nats://${host}:${opts.port}`,
    port: opts.port,
    get pid() {
      return child?.pid;
    },
    stop: () => signal('SIGTERM'),
    kill9: () => signal('SIGKILL'),
    restart: async () => {
      await signal('SIGTERM');
      await launch();
    },
  };
}

/** Stop a nats-server still running from an earlier owner (killed -9) on this pid file: SIGTERM, then SIGKILL. */
async function stopStale(pidFile: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes('nats-server') || !cmdline.includes(pidFile)) return;
  } catch {
    return; // no pid file, or its process is gone
  }
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
  if (alive()) process.kill(pid, 'SIGKILL');
}

function canConnect(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
