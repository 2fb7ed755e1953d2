import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { GatewayError } from './errors.js';
import { gatewayDir, gatewayFiles, type GatewayFiles } from './gatewayFiles.js';
import { renderHaproxyConfig, type HaproxyConfigSpec } from './haproxyConfig.js';
import { childEnv, pidAlive, withFileLock } from '@pgfleet/postgres';
import { haproxyProcessesOf, isHaproxyOf } from './procfs.js';
import { HaproxyRuntimeApi } from './runtimeApi.js';

export interface HaproxyGatewaysOptions {
  /** The platform's home; gateways live in `${home}/clusters/{clusterId}/gateways/{gatewayId}/`. */
  home: string;
  /** Default: $PGFLEET_HAPROXY_BIN or /usr/sbin/haproxy. */
  haproxyBin?: string;
}

/** A gateway's config spec; its run directory follows from the home and ids. */
export type GatewaySpec = Omit<HaproxyConfigSpec, 'runDir'>;

export type GatewayProcessState = 'running' | 'stopped' | 'missing';

export interface GatewayProcessStatus {
  state: GatewayProcessState;
  /** The process serving the gateway's listeners. */
  pid?: number;
  /** Older processes replaced by a seamless reload, still finishing their sessions. */
  drainingPids: number[];
  files: GatewayFiles;
}

export interface GatewayStartResult {
  pid: number;
  /**
   * started: no process was running; reloaded: config changed, new process took over (-sf);
   * rerouted: only which servers are enabled changed, switched at runtime (`statesAtRuntime`);
   * unchanged: same config already served.
   */
  action: 'started' | 'reloaded' | 'rerouted' | 'unchanged';
}

export interface GatewayStartOptions {
  /**
   * When the new config differs from the served one only in which servers are enabled, switch
   * them on the running process through the runtime API (`route`: servers leaving go to
   * maintenance and their sessions are shut, then the others are made ready) and write the
   * config, without a reload: no process is replaced, so none is left serving old sessions, and
   * a leader change takes milliseconds. A later start or reload reads the written config.
   */
  statesAtRuntime?: boolean;
}

export interface HaproxyGateways {
  files(clusterId: string, gatewayId: string): GatewayFiles;
  /** Start the gateway, or reload it seamlessly if its config changed; never a second serving process. */
  start(spec: GatewaySpec, options?: GatewayStartOptions): Promise<GatewayStartResult>;
  /** fast: SIGTERM (sessions cut at once), waits until gone; graceful: SIGUSR1 (stop listening, finish sessions). */
  stop(clusterId: string, gatewayId: string, mode?: 'fast' | 'graceful'): Promise<void>;
  /** SIGKILL every process of the gateway: a crash, for failover drills. */
  kill9(clusterId: string, gatewayId: string): Promise<void>;
  /**
   * Stop at once the processes a seamless reload replaced (they serve their old sessions and no
   * runtime API reaches them): their sessions are cut. Returns their pids. The serving one is kept.
   */
  stopDraining(clusterId: string, gatewayId: string): Promise<number[]>;
  status(clusterId: string, gatewayId: string): Promise<GatewayProcessStatus>;
  /** Stop the gateway and delete its run directory. */
  remove(clusterId: string, gatewayId: string): Promise<void>;
  runtimeApi(clusterId: string, gatewayId: string): HaproxyRuntimeApi;
}

interface Run {
  code: number;
  output: string;
}

function run(bin: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    // detached + daemon mode (-D): haproxy forks, setsid()s and outlives the control plane.
    // An environment built on purpose: the control plane's secrets must not sit in HAProxy's.
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: childEnv() });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      // The daemon closes the inherited pipes; do not wait on them longer than needed.
      const done = () => resolve({ code: code ?? -1, output });
      child.stdout.once('close', done);
      setTimeout(done, 200).unref();
    });
  });
}

const lastLines = (s: string, n = 3) => s.trim().split('\n').slice(-n).join(' | ');

/** Two rendered configs that differ at most in which servers are `disabled`. */
const sameButStates = (a: string, b: string) => {
  const structure = (cfg: string) => cfg.replace(/^( {2}server .*) disabled$/gm, '$1');
  return structure(a) === structure(b);
};

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

export function createHaproxyGateways(options: HaproxyGatewaysOptions): HaproxyGateways {
  const bin = options.haproxyBin ?? process.env.PGFLEET_HAPROXY_BIN ?? '/usr/sbin/haproxy';
  const files = (clusterId: string, gatewayId: string) => gatewayFiles(gatewayDir(options.home, clusterId, gatewayId));

  /** The serving process, from the pid file checked against /proc. */
  const livePid = (f: GatewayFiles): number | undefined => {
    try {
      const pid = Number(readFileSync(f.pid, 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 && isHaproxyOf(pid, f.config) ? pid : undefined;
    } catch {
      return undefined;
    }
  };

  const status = async (clusterId: string, gatewayId: string): Promise<GatewayProcessStatus> => {
    const f = files(clusterId, gatewayId);
    if (!existsSync(f.config)) return { state: 'missing', drainingPids: [], files: f };
    const pid = livePid(f);
    const drainingPids = haproxyProcessesOf(f.config).filter((p) => p !== pid);
    return pid ? { state: 'running', pid, drainingPids, files: f } : { state: 'stopped', drainingPids, files: f };
  };

  const signalAll = (f: GatewayFiles, signal: NodeJS.Signals, waitMs: number): Promise<number[]> =>
    signalPids(haproxyProcessesOf(f.config), signal, waitMs);

  /** Signal these processes; returns those still alive after `waitMs`. */
  const signalPids = async (pids: readonly number[], signal: NodeJS.Signals, waitMs: number): Promise<number[]> => {
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        /* already gone */
      }
    }
    if (waitMs > 0) await waitUntil(() => pids.every((p) => !pidAlive(p)), waitMs);
    return pids.filter((p) => pidAlive(p));
  };

  const stopLocked = async (f: GatewayFiles, mode: 'fast' | 'graceful') => {
    if (!existsSync(f.dir)) return;
    if (mode === 'graceful') {
      await signalAll(f, 'SIGUSR1', 0);
      return;
    }
    let left = await signalAll(f, 'SIGTERM', 10000);
    if (left.length > 0) left = await signalAll(f, 'SIGKILL', 5000);
    if (left.length > 0)
      throw new GatewayError('STOP_FAILED', `haproxy processes ${left.join(', ')} of gateway ${f.dir} did not exit`, {
        pids: left,
      });
    rmSync(f.pid, { force: true });
  };

  return {
    files,
    status,
    runtimeApi: (clusterId, gatewayId) => new HaproxyRuntimeApi(files(clusterId, gatewayId).socket),

    async start(spec, options = {}) {
      const f = files(spec.clusterId, spec.gatewayId);
      const config = renderHaproxyConfig({ ...spec, runDir: f.dir });
      // Parents keep the default mode: PostgreSQL nodes (another OS user) live under the same cluster dir.
      mkdirSync(dirname(f.dir), { recursive: true });
      if (!existsSync(f.dir)) mkdirSync(f.dir, { mode: 0o700 });
      if (dirname(f.socket) !== f.dir) mkdirSync(dirname(f.socket), { recursive: true, mode: 0o700 });
      return withFileLock(f.lock, async () => {
        const old = livePid(f);
        const current = existsSync(f.config) ? readFileSync(f.config, 'utf8') : undefined;
        if (old && current === config) return { pid: old, action: 'unchanged' as const };

        const next = `${f.config}.next`;
        if (old && current !== undefined && options.statesAtRuntime && sameButStates(current, config)) {
          // The running process takes the states first: the file never says more than it serves.
          const readOnly = spec.readOnly?.nodeIds ?? [];
          await new HaproxyRuntimeApi(f.socket).route({ leader: spec.leaderNodeId, readOnly });
          writeFileSync(next, config, { mode: 0o600 });
          renameSync(next, f.config);
          return { pid: old, action: 'rerouted' as const };
        }
        writeFileSync(next, config, { mode: 0o600 });
        const check = await run(bin, ['-c', '-f', next]);
        if (check.code !== 0) {
          rmSync(next, { force: true });
          throw new GatewayError(
            'HAPROXY_CONFIG_REJECTED',
            `haproxy rejected the config of gateway ${spec.gatewayId}: ${lastLines(check.output)}`,
          );
        }
        renameSync(next, f.config);

        // A reload takes the listeners over from the old process (-x) and lets it finish its sessions (-sf).
        const args = ['-D', '-f', f.config, ...(old ? ['-x', f.socket, '-sf', String(old)] : [])];
        const started = await run(bin, args);
        const pid = livePid(f);
        if (started.code !== 0 || !pid || pid === old) {
          // Put back the config the running process (if any) serves, so status and the next start agree.
          if (current !== undefined) writeFileSync(f.config, current, { mode: 0o600 });
          throw new GatewayError(
            'START_FAILED',
            `haproxy for gateway ${spec.gatewayId} did not start: ` +
              (lastLines(started.output) || `exit ${started.code}`),
            {
              exitCode: started.code,
            },
          );
        }
        return { pid, action: old ? ('reloaded' as const) : ('started' as const) };
      });
    },

    async stop(clusterId, gatewayId, mode = 'fast') {
      const f = files(clusterId, gatewayId);
      if (!existsSync(f.dir)) return;
      await withFileLock(f.lock, () => stopLocked(f, mode));
    },

    async kill9(clusterId, gatewayId) {
      const f = files(clusterId, gatewayId);
      const left = await signalAll(f, 'SIGKILL', 5000);
      if (left.length > 0)
        throw new GatewayError('STOP_FAILED', `haproxy processes ${left.join(', ')} survived SIGKILL`, { pids: left });
    },

    async stopDraining(clusterId, gatewayId) {
      const f = files(clusterId, gatewayId);
      if (!existsSync(f.dir)) return [];
      return withFileLock(f.lock, async () => {
        const serving = livePid(f);
        const draining = haproxyProcessesOf(f.config).filter((p) => p !== serving);
        if (draining.length === 0) return [];
        let left = await signalPids(draining, 'SIGTERM', 5000);
        if (left.length > 0) left = await signalPids(left, 'SIGKILL', 5000);
        if (left.length > 0)
          throw new GatewayError('STOP_FAILED', `draining haproxy processes ${left.join(', ')} did not exit`, {
            pids: left,
          });
        return draining;
      });
    },

    async remove(clusterId, gatewayId) {
      const f = files(clusterId, gatewayId);
      if (!existsSync(f.dir)) return;
      await withFileLock(f.lock, () => stopLocked(f, 'fast'));
      rmSync(f.dir, { recursive: true, force: true });
      rmSync(f.socket, { force: true }); // when it lives outside the run directory
    },
  };
}
