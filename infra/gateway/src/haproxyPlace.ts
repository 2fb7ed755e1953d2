import { spawn } from 'node:child_process';
import { childEnv, pidAlive } from '@pgfleet/postgres';
import type { HaproxyConfigSpec } from './haproxyConfig.js';
import { haproxyProcessesOf } from './procfs.js';

/** One gateway, as a place sees it: its ids. */
export interface GatewayRef {
  clusterId: string;
  gatewayId: string;
}

/** A gateway's config spec as a place gets it: `placedOn`, the host of the place it runs on, when it has several. */
export type PlacedSpec = Omit<HaproxyConfigSpec, 'runDir'> & { placedOn?: string };

/** What a run of `haproxy` printed and how it exited. */
export interface HaproxyRun {
  code: number;
  output: string;
}

/**
 * Where a gateway's HAProxy processes run and how they are seen: this machine (`localPlace`), or a
 * container of the gateway's own (the docker runtime's). Process ids are the place's own; the
 * gateway's run directory (config, pid file, stats socket) is at the same path in both.
 */
export interface HaproxyPlace {
  /**
   * Made ready for the gateway of `spec` (its container created and running, say), before its
   * config is rendered; returns the spec its HAProxy serves (addresses as seen from the place).
   */
  prepare?(gateway: GatewayRef, spec: PlacedSpec): Promise<PlacedSpec>;
  /** Run haproxy with `args` there (with `-D` it returns once the daemon forked). */
  run(gateway: GatewayRef, args: readonly string[]): Promise<HaproxyRun>;
  /** The live haproxy processes started with `-f config`, ascending. */
  processes(gateway: GatewayRef, config: string): Promise<number[]>;
  /** Send `signal` to these processes (those already gone are skipped). */
  signal(gateway: GatewayRef, pids: readonly number[], signal: NodeJS.Signals): Promise<void>;
  /** After the gateway was removed (processes stopped, run directory deleted): what the place keeps for it goes. */
  removed?(gateway: GatewayRef): Promise<void>;
}

/** HAProxy processes on this machine: `bin` (default $PGFLEET_HAPROXY_BIN or /usr/sbin/haproxy). */
export function localPlace(bin = process.env.PGFLEET_HAPROXY_BIN ?? '/usr/sbin/haproxy'): HaproxyPlace {
  return {
    run: (_gateway, args) => runDetached(bin, args),
    processes: async (_gateway, config) => haproxyProcessesOf(config),
    async signal(_gateway, pids, signal) {
      for (const pid of pids) {
        try {
          if (pidAlive(pid)) process.kill(pid, signal);
        } catch {
          /* already gone */
        }
      }
    },
  };
}

function runDetached(bin: string, args: readonly string[]): Promise<HaproxyRun> {
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
