import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { sendCommand } from '@pgfleet/bus';
import { COMMANDS, type ServiceName } from '@pgfleet/contracts';

/** The services `pgfleet up` runs, each its own process (they talk only through NATS). */
export const SERVICES = ['provisioning', 'backup', 'networking', 'ha', 'billing', 'pitr', 'upgrade'] as const;

/**
 * Where a service's built entry point is: `services/{name}/dist/main.js` of this repository, found
 * by path from this file (`services/api/dist/platform/`) rather than by importing the service's
 * package, which the API does not depend on.
 */
const serviceEntryPath = (name: string): string =>
  fileURLToPath(new URL(`../../../${name}/dist/main.js`, import.meta.url));

/** The entry point of every service, or an error naming those that are not built. */
export function serviceEntries(names: readonly string[]): Map<string, string> {
  const entries = new Map(names.map((name) => [name, serviceEntryPath(name)]));
  const missing = [...entries].filter(([, entry]) => !existsSync(entry));
  if (missing.length > 0) {
    const list = missing.map(([name, entry]) => `${name} (no ${entry})`).join(', ');
    throw new Error(`cannot start pgfleet: these services are not built: ${list}; run "npm run build" first`);
  }
  return entries;
}

export interface Supervised {
  name: string;
  readonly pid: number | undefined;
  /** From now on the service is never restarted (synchronous: the first thing a shutdown does). */
  markStopping(): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Where a service's output goes instead of the terminal: its name and a chunk of stdout or stderr. */
export type ServiceOutput = (service: string, chunk: string) => void;

/** How long a stopping service gets to finish its work in hand before SIGKILL (its operations resume later). */
const STOP_GRACE_MS = 8000;
const RESTART_DELAY_MS = 1000;

/**
 * Run a service process; restart it (after a pause) when it dies unexpectedly, like an init
 * system, but never once the platform is stopping: a service that exits on the Ctrl-C of the whole
 * process group is not restarted.
 */
export function supervise(
  name: string,
  entry: string,
  env: NodeJS.ProcessEnv,
  log: (msg: string) => void,
  output?: ServiceOutput,
): Supervised {
  let child: ChildProcess | undefined;
  let stopping = false;
  let exited: Promise<void> = Promise.resolve();
  const launch = () => {
    const stdio = output ? 'pipe' : 'inherit';
    const proc = spawn(process.execPath, [entry], { env, stdio: ['ignore', stdio, stdio] });
    proc.stdout?.on('data', (d: Buffer) => output?.(name, d.toString()));
    proc.stderr?.on('data', (d: Buffer) => output?.(name, d.toString()));
    child = proc;
    exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        resolve();
        if (stopping) return;
        // Decided after the pause: a Ctrl-C reaches the services and `up` at once, and the
        // service may exit before `up` has marked it stopping.
        setTimeout(() => {
          if (stopping) return;
          log(`service ${name} exited (${signal ?? code}); restarting`);
          launch();
        }, RESTART_DELAY_MS);
      }),
    );
  };
  launch();
  return {
    name,
    get pid() {
      return child?.pid;
    },
    markStopping: () => {
      stopping = true;
    },
    stop: async (graceMs = STOP_GRACE_MS) => {
      stopping = true;
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Wait until every service answers its commands on NATS (an empty command gets a validation
 * rejection rather than SERVICE_UNAVAILABLE), so `up` reports the platform ready only when it is.
 * Returns the services still silent after the timeout.
 */
export async function waitUntilAnswering(
  nc: NatsConnection,
  names: readonly string[],
  timeoutMs = 60_000,
  stopping: () => boolean = () => false,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  const silent: string[] = [];
  for (const name of names) {
    if (!Object.hasOwn(COMMANDS, name)) continue;
    const service = name as ServiceName;
    const command = Object.keys(COMMANDS[service])[0] as never;
    for (;;) {
      const reply = await sendCommand(nc, service, command, {}, undefined, { timeoutMs: 1000, probe: true });
      if (reply.ok || reply.code !== 'SERVICE_UNAVAILABLE') break;
      if (Date.now() > deadline || stopping()) {
        silent.push(name);
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return silent;
}
