import type Docker from 'dockerode';
import { INITDB_OPTIONS } from '@pgfleet/postgres';
import { type MajorUpgrade, NodeRuntimeError, type NodeInfo, type NodeSetup } from '../port.js';
import { pgUpgradeReasons } from '../process/pgUpgrade.js';
import { execIn, execOk, IN_CONTAINER } from './containers.js';
import { postmasterPid } from './nodeContainer.js';
import { writeFileIn } from './nodeFiles.js';

/** What the docker major upgrade needs of the runtime. */
export interface DockerUpgradeDeps {
  docker: Docker;
  /** The node's container, started (NODE_NOT_FOUND without one). */
  up(nodeId: string): Promise<{ c: Docker.Container; info: NodeInfo }>;
  /**
   * Replace the node's container by one of `major` on the same volume (the major is a label of
   * the container, which cannot change); also makes it when only the volume is left. Started.
   */
  recreate(nodeId: string, major: number): Promise<{ c: Docker.Container; info: NodeInfo }>;
  writeConfig(c: Docker.Container, info: NodeInfo, setup: NodeSetup): Promise<void>;
}

/**
 * Where an upgrade stands, in `/pgfleet/upgrade.json` on the node's volume: as the process driver's
 * (`prepared`, `upgrading`, `upgraded`, `switched`). The new data directory is `/pgfleet/data-{to}`
 * beside the old one on the same volume (pg_upgrade --link needs one file system); the switch
 * renames the old to `/pgfleet/data-{from}` and the new to `/pgfleet/data`, then gives the node a
 * container labelled with the new major.
 */
interface UpgradeState {
  fromMajor: number;
  toMajor: number;
  state: 'prepared' | 'upgrading' | 'upgraded' | 'switched';
}

const { volume, dataDir, socketDir } = IN_CONTAINER;
const STATE = `${volume}/upgrade.json`;
const dirOf = (major: number) => `${volume}/data-${major}`;
const bin = (major: number, tool: string) => `/usr/lib/postgresql/${major}/bin/${tool}`;
/** pg_upgrade's working directory: short, for the sockets of the servers it starts. */
const SCRATCH = `${socketDir}/upgrade`;

export function dockerMajorUpgrade(deps: DockerUpgradeDeps): MajorUpgrade {
  const { docker } = deps;
  const sh = (c: Docker.Container, script: string) => execOk(docker, c, ['sh', '-c', script]);
  const readState = async (c: Docker.Container): Promise<UpgradeState | undefined> => {
    const r = await execIn(docker, c, ['cat', STATE]);
    return r.code === 0 ? (JSON.parse(r.stdout) as UpgradeState) : undefined;
  };
  const writeState = (c: Docker.Container, state: UpgradeState) =>
    writeFileIn(docker, c, STATE, `${JSON.stringify(state)}\n`, '644');

  /** What a killed earlier attempt left running: pg_upgrade, the servers it started (not the node's own). */
  const stopLeftovers = async (c: Docker.Container, info: NodeInfo, toMajor: number) => {
    const newCtl = `${bin(toMajor, 'pg_ctl')} -D ${dirOf(toMajor)}`;
    const oldCtl = `${bin(info.major, 'pg_ctl')} -D ${dataDir}`;
    const script = [
      'pkill -9 -u postgres -x pg_upgrade',
      `${newCtl} status >/dev/null 2>&1 && ${newCtl} -m immediate -w stop`,
      // A server pg_upgrade started on the old directory listens on its scratch socket, not the node's.
      `test "$(sed -n 5p ${dataDir}/postmaster.pid 2>/dev/null)" = "${SCRATCH}" && ${oldCtl} -m immediate -w stop`,
      'true',
    ].join('; ');
    await sh(c, script);
  };
  /** pg_upgrade --link only renamed global/pg_control of the old directory: rename it back. */
  const restoreOld = (c: Docker.Container) =>
    sh(c, `cd ${dataDir}/global && (test -f pg_control || mv pg_control.old pg_control 2>/dev/null; true)`);

  const prepare = async (c: Docker.Container, info: NodeInfo, toMajor: number): Promise<UpgradeState> => {
    await stopLeftovers(c, info, toMajor);
    await restoreOld(c);
    await sh(c, `rm -rf ${dirOf(toMajor)} && mkdir -m 700 ${dirOf(toMajor)}`);
    await execOk(docker, c, [bin(toMajor, 'initdb'), '-D', dirOf(toMajor), ...INITDB_OPTIONS]);
    const state: UpgradeState = { fromMajor: info.major, toMajor, state: 'prepared' };
    await writeState(c, state);
    return state;
  };

  const pgUpgrade = async (c: Docker.Container, info: NodeInfo, toMajor: number, mode: 'check' | 'link') => {
    await sh(c, `rm -rf ${SCRATCH} && mkdir -m 700 ${SCRATCH}`);
    const args = [
      ...['-b', bin(info.major, ''), '-B', bin(toMajor, '')],
      ...['-d', dataDir, '-D', dirOf(toMajor), '-p', String(IN_CONTAINER.port), '-P', '50432'],
      ...['-U', 'postgres', '-s', SCRATCH, mode === 'check' ? '--check' : '--link'],
    ];
    const r = await execIn(docker, c, [bin(toMajor, 'pg_upgrade'), ...args], { workingDir: SCRATCH });
    if (r.code === 0) return { ok: true as const };
    const output = `${r.stdout}\n${r.stderr}`;
    const files = new Map<string, string[]>();
    for (const file of new Set(output.match(/\/[^\s"]+\.(txt|log)/g) ?? [])) {
      const read = await execIn(docker, c, ['cat', file]);
      if (read.code === 0)
        files.set(
          file,
          read.stdout
            .trimEnd()
            .split('\n')
            .map((l) => l.trim())
            .filter(Boolean),
        );
    }
    await sh(c, `rm -rf ${SCRATCH}`);
    return { ok: false as const, reasons: pgUpgradeReasons(output, (f, max) => files.get(f)?.slice(-max) ?? []) };
  };

  const failed = (info: NodeInfo, reasons: string[]) =>
    new NodeRuntimeError('UPGRADE_FAILED', `pg_upgrade of node ${info.nodeId} failed: ${reasons.join(' | ')}`, {
      nodeId: info.nodeId,
      reasons,
    });

  const discard = async (c: Docker.Container, info: NodeInfo) => {
    const state = await readState(c);
    if (state?.state === 'switched' || (state && info.major === state.toMajor)) {
      const message = `node ${info.nodeId} already runs on its upgraded data directory: the old one cannot come back`;
      throw new NodeRuntimeError('UPGRADE_SWITCHED', message, { nodeId: info.nodeId });
    }
    if (!state) return;
    await stopLeftovers(c, info, state.toMajor);
    await restoreOld(c);
    await sh(c, `rm -rf ${dirOf(state.toMajor)} ${STATE}`);
  };

  return {
    async check(nodeId, { toMajor }) {
      const { c, info } = await deps.up(nodeId);
      const state = await readState(c);
      if (state?.toMajor === toMajor && state.state === 'prepared') await stopLeftovers(c, info, toMajor);
      else await prepare(c, info, toMajor);
      const r = await pgUpgrade(c, info, toMajor, 'check');
      return r.ok ? { ok: true } : { ok: false, reasons: r.reasons };
    },

    async upgrade(nodeId, { toMajor }) {
      const { c, info } = await deps.up(nodeId);
      if (info.major === toMajor) return; // switched already
      const state = await readState(c);
      if (state?.toMajor === toMajor && state.state === 'upgraded') return;
      const pid = await postmasterPid(docker, c, info);
      const own = (await execIn(docker, c, ['sed', '-n', '5p', `${dataDir}/postmaster.pid`])).stdout.trim();
      if (pid !== undefined && own === socketDir) {
        throw new NodeRuntimeError('STOP_FAILED', `node ${nodeId} runs: stop it before pg_upgrade`, { nodeId });
      }
      // An interrupted pg_upgrade leaves a new cluster half made: start again from a fresh initdb.
      await stopLeftovers(c, info, toMajor);
      const ready = state?.toMajor === toMajor && state.state === 'prepared' ? state : await prepare(c, info, toMajor);
      await writeState(c, { ...ready, state: 'upgrading' });
      const r = await pgUpgrade(c, info, toMajor, 'link');
      if (!r.ok) {
        await discard(c, info);
        throw failed(info, r.reasons);
      }
      await writeState(c, { ...ready, state: 'upgraded' });
    },

    async switchTo(nodeId, { toMajor, setup }) {
      let node = await deps.up(nodeId).catch((error: unknown) => {
        // A switch interrupted between the removal of the old container and the making of the new one.
        if ((error as NodeRuntimeError).code === 'NODE_NOT_FOUND') return deps.recreate(nodeId, toMajor);
        throw error;
      });
      const state = await readState(node.c);
      const done = state?.state === 'switched' && state.toMajor === toMajor;
      if (!state || (!done && (state.state !== 'upgraded' || state.toMajor !== toMajor))) {
        throw failed(node.info, [`no completed pg_upgrade to ${toMajor} to switch to`]);
      }
      if (!done) {
        // Each rename once, so a repeated switch finds the directories where the last one left them.
        const from = dirOf(state.fromMajor);
        await sh(
          node.c,
          `test -d ${from} || mv ${dataDir} ${from}; test -d ${dataDir} || mv ${dirOf(toMajor)} ${dataDir}`,
        );
        await writeState(node.c, { ...state, state: 'switched' });
      }
      if (node.info.major !== toMajor) node = await deps.recreate(nodeId, toMajor);
      await deps.writeConfig(node.c, node.info, setup);
    },

    async discard(nodeId) {
      const { c, info } = await deps.up(nodeId);
      await discard(c, info);
    },

    async removeOld(nodeId) {
      const { c, info } = await deps.up(nodeId);
      const state = await readState(c);
      if (state?.state !== 'switched' || info.major !== state.toMajor) return;
      await sh(c, `rm -rf ${dirOf(state.fromMajor)} ${STATE}`);
    },
  };
}
