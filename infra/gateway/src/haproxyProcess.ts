import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { withFileLock } from '@pgfleet/postgres';
import { GatewayError } from './errors.js';
import { gatewayDir, gatewayFiles, type GatewayFiles } from './gatewayFiles.js';
import { renderHaproxyConfig } from './haproxyConfig.js';
import { localPlace, type HaproxyPlace, type PlacedSpec } from './haproxyPlace.js';
import { HaproxyRuntimeApi } from './runtimeApi.js';

export interface HaproxyGatewaysOptions {
  /** The platform's home; gateways live in `${home}/clusters/{clusterId}/gateways/{gatewayId}/`. */
  home: string;
  /** Default: $PGFLEET_HAPROXY_BIN or /usr/sbin/haproxy (the local place's binary). */
  haproxyBin?: string;
  /** Where the gateways' HAProxy processes run (a container per gateway, say); default this machine. */
  place?: HaproxyPlace;
  /** The hosts the place can run gateways on, when it has a choice (see `HaproxyGateways.hosts`). */
  hosts?: GatewayHosts;
}

/**
 * A gateway's config spec; its run directory follows from the home and ids. `placedOn`: the host
 * of the place it runs on (GatewayPlaced), when the place has several (`HaproxyGateways.hosts`).
 */
export type GatewaySpec = PlacedSpec;

/** The hosts a place runs gateways on, with the number of gateways (of every cluster) each holds now. */
export interface GatewayHosts {
  loads(): Promise<{ host: string; nodes: number }[]>;
}

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
  /** Where gateways can run when there is a choice (a docker runtime with several local hosts); none otherwise. */
  hosts?: GatewayHosts;
  files(clusterId: string, gatewayId: string): GatewayFiles;
  /**
   * Make ready where the gateway of `spec` will run (its container made and started, say), ahead of
   * its first start, with no HAProxy yet; present when the place has something to make (idempotent).
   */
  prepare?(spec: GatewaySpec): Promise<void>;
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

const lastLines = (s: string, n = 3) => s.trim().split('\n').slice(-n).join(' | ');

/** Two rendered configs that differ at most in which servers are `disabled`. */
const sameButStates = (a: string, b: string) => {
  const structure = (cfg: string) => cfg.replace(/^( {2}server .*) disabled$/gm, '$1');
  return structure(a) === structure(b);
};

/** A gateway's run directory (and its short socket's), before its place or HAProxy uses them. */
function makeRunDir(f: GatewayFiles): void {
  // Parents keep the default mode: PostgreSQL nodes (another OS user) live under the same cluster dir.
  mkdirSync(dirname(f.dir), { recursive: true });
  if (!existsSync(f.dir)) mkdirSync(f.dir, { mode: 0o700 });
  if (dirname(f.socket) !== f.dir) mkdirSync(dirname(f.socket), { recursive: true, mode: 0o700 });
}

async function waitUntil(cond: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

export function createHaproxyGateways(options: HaproxyGatewaysOptions): HaproxyGateways {
  const place = options.place ?? localPlace(options.haproxyBin);
  const files = (clusterId: string, gatewayId: string) => gatewayFiles(gatewayDir(options.home, clusterId, gatewayId));
  type Gw = { clusterId: string; gatewayId: string; f: GatewayFiles };
  const gw = (clusterId: string, gatewayId: string): Gw => ({ clusterId, gatewayId, f: files(clusterId, gatewayId) });
  const processes = (g: Gw) => place.processes(g, g.f.config);

  /** The serving process: the pid file's, when it is one of the gateway's processes. */
  const livePid = async (g: Gw, running?: readonly number[]): Promise<number | undefined> => {
    let pid: number;
    try {
      pid = Number(readFileSync(g.f.pid, 'utf8').split('\n')[0]);
    } catch {
      return undefined;
    }
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    return (running ?? (await processes(g))).includes(pid) ? pid : undefined;
  };

  const status = async (clusterId: string, gatewayId: string): Promise<GatewayProcessStatus> => {
    const g = gw(clusterId, gatewayId);
    const f = g.f;
    if (!existsSync(f.config)) return { state: 'missing', drainingPids: [], files: f };
    const running = await processes(g);
    const pid = await livePid(g, running);
    const drainingPids = running.filter((p) => p !== pid);
    return pid ? { state: 'running', pid, drainingPids, files: f } : { state: 'stopped', drainingPids, files: f };
  };

  const signalAll = async (g: Gw, signal: NodeJS.Signals, waitMs: number): Promise<number[]> =>
    signalPids(g, await processes(g), signal, waitMs);

  /** Signal these processes; returns those still alive after `waitMs`. */
  const signalPids = async (
    g: Gw,
    pids: readonly number[],
    signal: NodeJS.Signals,
    waitMs: number,
  ): Promise<number[]> => {
    if (pids.length === 0) return [];
    await place.signal(g, pids, signal);
    const left = async () => (await processes(g)).filter((p) => pids.includes(p));
    if (waitMs > 0) await waitUntil(async () => (await left()).length === 0, waitMs);
    return left();
  };

  const stopLocked = async (g: Gw, mode: 'fast' | 'graceful') => {
    const f = g.f;
    if (!existsSync(f.dir)) return;
    if (mode === 'graceful') {
      await signalAll(g, 'SIGUSR1', 0);
      return;
    }
    let left = await signalAll(g, 'SIGTERM', 10000);
    if (left.length > 0) left = await signalAll(g, 'SIGKILL', 5000);
    if (left.length > 0)
      throw new GatewayError('STOP_FAILED', `haproxy processes ${left.join(', ')} of gateway ${f.dir} did not exit`, {
        pids: left,
      });
    rmSync(f.pid, { force: true });
  };

  return {
    ...(options.hosts ? { hosts: options.hosts } : {}),
    files,
    status,
    runtimeApi: (clusterId, gatewayId) => new HaproxyRuntimeApi(files(clusterId, gatewayId).socket),

    ...(place.prepare
      ? {
          async prepare(spec: GatewaySpec) {
            const g = gw(spec.clusterId, spec.gatewayId);
            makeRunDir(g.f);
            await withFileLock(g.f.lock, async () => {
              await place.prepare?.(g, spec);
            });
          },
        }
      : {}),

    async start(spec, options = {}) {
      const g = gw(spec.clusterId, spec.gatewayId);
      const f = g.f;
      makeRunDir(f);
      return withFileLock(f.lock, async () => {
        const { placedOn: _placedOn, ...served } = place.prepare ? await place.prepare(g, spec) : spec;
        const config = renderHaproxyConfig({ ...served, runDir: f.dir });
        const old = await livePid(g);
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
        const check = await place.run(g, ['-c', '-f', next]);
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
        const started = await place.run(g, args);
        const pid = await livePid(g);
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
      const g = gw(clusterId, gatewayId);
      if (!existsSync(g.f.dir)) return;
      await withFileLock(g.f.lock, () => stopLocked(g, mode));
    },

    async kill9(clusterId, gatewayId) {
      const left = await signalAll(gw(clusterId, gatewayId), 'SIGKILL', 5000);
      if (left.length > 0)
        throw new GatewayError('STOP_FAILED', `haproxy processes ${left.join(', ')} survived SIGKILL`, { pids: left });
    },

    async stopDraining(clusterId, gatewayId) {
      const g = gw(clusterId, gatewayId);
      if (!existsSync(g.f.dir)) return [];
      return withFileLock(g.f.lock, async () => {
        const running = await processes(g);
        const serving = await livePid(g, running);
        const draining = running.filter((p) => p !== serving);
        if (draining.length === 0) return [];
        let left = await signalPids(g, draining, 'SIGTERM', 5000);
        if (left.length > 0) left = await signalPids(g, left, 'SIGKILL', 5000);
        if (left.length > 0)
          throw new GatewayError('STOP_FAILED', `draining haproxy processes ${left.join(', ')} did not exit`, {
            pids: left,
          });
        return draining;
      });
    },

    async remove(clusterId, gatewayId) {
      const g = gw(clusterId, gatewayId);
      if (existsSync(g.f.dir)) {
        await withFileLock(g.f.lock, () => stopLocked(g, 'fast'));
        rmSync(g.f.dir, { recursive: true, force: true });
        rmSync(g.f.socket, { force: true }); // when it lives outside the run directory
      }
      await place.removed?.(g);
    },
  };
}
