import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  emptyDir,
  ensureOwnedDir,
  INITDB_OPTIONS,
  nodeSocketDir,
  runAsPostgres,
  runAsPostgresOk,
  toolchain,
  writeNodeConfig,
  writeOwnedFile,
  type InitNodeInput,
} from '@pgfleet/postgres';
import { type MajorUpgrade, NodeRuntimeError, type NodeInfo, type NodeSetup } from '../port.js';
import type { Layout } from './layout.js';
import { killToolsOn, livePostmaster, waitForNoProcesses } from './postmaster.js';
import { runPgUpgrade } from './pgUpgrade.js';

/** What the major upgrade needs of the process runtime. */
export interface MajorUpgradeDeps {
  layout: Layout;
  need(nodeId: string): NodeInfo;
  locked<T>(info: NodeInfo, fn: () => Promise<T>): Promise<T>;
  /** The node's configuration for `setup` (configOf with the archive's paths). */
  config(info: NodeInfo, setup: NodeSetup): InitNodeInput;
}

/**
 * Where an upgrade stands, in `{node dir}/upgrade.json` (the data directories are the driver's):
 * `prepared` (the new data directory initialized, empty), `upgrading` (pg_upgrade --link ran or
 * runs: an interrupted one is redone from a fresh initdb), `upgraded` (pg_upgrade succeeded),
 * `switched` (the node's record names the new data directory: no way back).
 */
interface UpgradeState {
  fromMajor: number;
  toMajor: number;
  oldDataDir: string;
  newDataDir: string;
  state: 'prepared' | 'upgrading' | 'upgraded' | 'switched';
}

/** The process driver's MajorUpgrade: initdb and pg_upgrade run locally as the postgres OS user. */
export function processMajorUpgrade(deps: MajorUpgradeDeps): MajorUpgrade {
  const { layout } = deps;
  const stateFile = (info: NodeInfo) => join(layout.nodeDir(info.clusterId, info.nodeId), 'upgrade.json');
  const readState = (info: NodeInfo): UpgradeState | undefined => {
    try {
      return JSON.parse(readFileSync(stateFile(info), 'utf8')) as UpgradeState;
    } catch {
      return undefined;
    }
  };
  const writeState = (info: NodeInfo, state: UpgradeState) =>
    writeOwnedFile(stateFile(info), `${JSON.stringify(state, null, 2)}\n`, 0o644);
  const newDirOf = (info: NodeInfo, toMajor: number) =>
    join(layout.nodeDir(info.clusterId, info.nodeId), `data-${toMajor}`);

  /** The upgrade of a node still on its old data directory (a state of another target is discarded). */
  const current = (info: NodeInfo, toMajor: number): UpgradeState | undefined => {
    const state = readState(info);
    return state?.toMajor === toMajor && state.oldDataDir === info.dataDir ? state : undefined;
  };

  /** What a killed earlier attempt left running: pg_upgrade and its tools, the servers it started. */
  const stopLeftovers = async (info: NodeInfo, newDataDir: string, toMajor: number) => {
    killToolsOn(newDataDir);
    const stopNow = (major: number, dir: string) =>
      runAsPostgres(toolchain(major).bin('pg_ctl'), ['-D', dir, '-m', 'immediate', '-w', 'stop']);
    if (livePostmaster(newDataDir) !== undefined) await stopNow(toMajor, newDataDir);
    await waitForNoProcesses(newDataDir, 2000);
    // A server pg_upgrade started on the old directory listens on its scratch socket, not the node's.
    const old = livePostmaster(info.dataDir);
    if (old !== undefined && postmasterSocket(info.dataDir) !== info.socketDir) await stopNow(info.major, info.dataDir);
  };

  /**
   * The old data directory as it was: pg_upgrade --link renamed global/pg_control (and changed
   * nothing else before the new server starts).
   */
  const restoreOld = (info: NodeInfo) => {
    const control = join(info.dataDir, 'global', 'pg_control');
    if (!existsSync(control) && existsSync(`${control}.old`)) renameSync(`${control}.old`, control);
  };

  /** A fresh initdb of `toMajor` into the new data directory (every node's initdb options). */
  const prepare = async (info: NodeInfo, toMajor: number): Promise<UpgradeState> => {
    const newDataDir = newDirOf(info, toMajor);
    await stopLeftovers(info, newDataDir, toMajor);
    restoreOld(info);
    emptyDir(newDataDir);
    ensureOwnedDir(newDataDir);
    await runAsPostgresOk(toolchain(toMajor).bin('initdb'), ['-D', newDataDir, ...INITDB_OPTIONS]);
    const state: UpgradeState = {
      fromMajor: info.major,
      toMajor,
      oldDataDir: info.dataDir,
      newDataDir,
      state: 'prepared',
    };
    writeState(info, state);
    return state;
  };

  const failed = (info: NodeInfo, reasons: string[]) =>
    new NodeRuntimeError('UPGRADE_FAILED', `pg_upgrade of node ${info.nodeId} failed: ${reasons.join(' | ')}`, {
      nodeId: info.nodeId,
      reasons,
    });

  const discard = async (info: NodeInfo) => {
    const state = readState(info);
    if (state?.state === 'switched' || (state && info.dataDir === state.newDataDir)) {
      const message = `node ${info.nodeId} already runs on its upgraded data directory: the old one cannot come back`;
      throw new NodeRuntimeError('UPGRADE_SWITCHED', message, { nodeId: info.nodeId });
    }
    if (!state) return;
    await stopLeftovers(info, state.newDataDir, state.toMajor);
    restoreOld(info);
    rmSync(state.newDataDir, { recursive: true, force: true });
    rmSync(stateFile(info), { force: true });
  };

  return {
    async check(nodeId, { toMajor }) {
      const info = deps.need(nodeId);
      const ready = await deps.locked(info, async () => {
        const state = current(info, toMajor);
        if (state?.state !== 'prepared') return prepare(info, toMajor);
        await stopLeftovers(info, state.newDataDir, toMajor); // a check a killed caller left running
        return state;
      });
      const r = await runPgUpgrade({ ...ready, oldPort: info.port, mode: 'check' });
      return r.ok ? { ok: true } : { ok: false, reasons: r.reasons };
    },

    async upgrade(nodeId, { toMajor }) {
      const info = deps.need(nodeId);
      if (info.major === toMajor) return; // switched already
      await deps.locked(info, async () => {
        const state = current(info, toMajor);
        if (state?.state === 'upgraded') return;
        if (livePostmaster(info.dataDir) !== undefined && postmasterSocket(info.dataDir) === info.socketDir) {
          throw new NodeRuntimeError('STOP_FAILED', `node ${nodeId} runs: stop it before pg_upgrade`, { nodeId });
        }
        // An interrupted pg_upgrade leaves a new cluster half made: start again from a fresh initdb.
        await stopLeftovers(info, newDirOf(info, toMajor), toMajor);
        const ready = state?.state === 'prepared' ? state : await prepare(info, toMajor);
        writeState(info, { ...ready, state: 'upgrading' });
        const r = await runPgUpgrade({ ...ready, oldPort: info.port, mode: 'link' });
        if (!r.ok) {
          await discard(info);
          throw failed(info, r.reasons);
        }
        writeState(info, { ...ready, state: 'upgraded' });
      });
    },

    async switchTo(nodeId, { toMajor, setup }) {
      const info = deps.need(nodeId);
      const state = readState(info);
      const switched = state?.state === 'switched' && info.dataDir === state.newDataDir;
      if (!state || (!switched && (state.state !== 'upgraded' || state.toMajor !== toMajor))) {
        throw failed(info, [`no completed pg_upgrade to ${toMajor} to switch to`]);
      }
      const dataDir = state.newDataDir;
      const next: NodeInfo = { ...info, major: toMajor, dataDir, socketDir: nodeSocketDir(dataDir) };
      await deps.locked(info, async () => {
        // The configuration first (it is what makes the directory complete), then the record.
        writeNodeConfig(deps.config(next, setup));
        layout.write(next);
        writeState(next, { ...state, state: 'switched' });
      });
    },

    async discard(nodeId) {
      const info = deps.need(nodeId);
      await deps.locked(info, () => discard(info));
    },

    async removeOld(nodeId) {
      const info = deps.need(nodeId);
      const state = readState(info);
      if (state?.state !== 'switched' || info.dataDir !== state.newDataDir) return;
      await deps.locked(info, async () => {
        await waitForNoProcesses(state.oldDataDir, 2000);
        rmSync(state.oldDataDir, { recursive: true, force: true });
        const oldSocket = nodeSocketDir(state.oldDataDir);
        if (oldSocket !== state.oldDataDir) rmSync(oldSocket, { recursive: true, force: true });
        rmSync(stateFile(info), { force: true });
      });
    },
  };
}

/** The socket directory a running server of `dataDir` listens on (line 5 of postmaster.pid). */
function postmasterSocket(dataDir: string): string | undefined {
  try {
    return readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[4];
  } catch {
    return undefined;
  }
}
