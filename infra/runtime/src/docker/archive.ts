import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import {
  backupArgs,
  expireArgs,
  createClusterCa,
  issueNodeCert,
  parsePgBackRestInfo,
  type ArchiveInfo,
  type PgBackRestPaths,
} from '@pgfleet/postgres';
import type { NodeInfo, NodeSetup, WalArchive } from '../port.js';
import { execOk, hostNameOf } from './containers.js';
import { archivedAt } from '../process/archive.js';
import {
  archiveToolContainer,
  ensureServerIn,
  localPgArgs,
  pgBackRestIn,
  PITR_CN,
  preparePitrIn,
  remotePgArgs,
  stanzaDirs,
  type PitrCert,
} from './pgBackRestIn.js';
import { restoreInContainer } from './restoreIn.js';

/** What the docker archive needs of the runtime. */
export interface DockerArchiveDeps {
  docker: Docker;
  image: string;
  /** The host directory of the repository (mounted at the same path in every container). */
  repo: string;
  /** Where the runtime keeps the CA and certificates of pgBackRest's TLS servers. */
  tlsDir: string;
  paths: PgBackRestPaths;
  /** The node's container, started. */
  up(nodeId: string): Promise<{ c: Docker.Container; info: NodeInfo }>;
  /** Write the node's configuration for `setup` into its container. */
  writeConfig(c: Docker.Container, info: NodeInfo, setup: NodeSetup): Promise<void>;
  /** Start the node's server; resolves with its pid. */
  startServer(c: Docker.Container, info: NodeInfo): Promise<number>;
  /** The superuser password the control plane keeps for the node. */
  superuserPassword(nodeId: string): Promise<string>;
}

/**
 * The docker driver's WalArchive: pgBackRest run inside the containers against the one repository
 * they all mount. Commands of a node run in its container (stanza-create, check and backup in the
 * leader's: pg1 is local there); a backup from a standby reads the standby's files through
 * pgBackRest's TLS server in the standby's container (pg2-host-type=tls, a CA of the runtime's
 * own); info, expire and remove run in the runtime's archive tool container.
 */
export function dockerArchive(deps: DockerArchiveDeps): WalArchive {
  const { docker, paths } = deps;
  const leader = async (nodeId: string) => {
    const { c, info } = await deps.up(nodeId);
    await preparePitrIn(docker, c, paths);
    return { c, info };
  };
  const tool = () => archiveToolContainer(docker, deps.image, deps.repo, paths);

  /** The certificate of a container (by its name) from the runtime's pitr CA, made on first use. */
  const certOf = async (name: string): Promise<PitrCert> => {
    await createClusterCa(join(deps.tlsDir, 'ca'), 'pgfleet pitr');
    const out = join(deps.tlsDir, 'certs', name);
    const made = await issueNodeCert({
      caDir: join(deps.tlsDir, 'ca'),
      outDir: out,
      commonName: PITR_CN,
      dnsNames: [name],
      ipAddresses: [],
    });
    return { key: readFileSync(made.keyFile), cert: readFileSync(made.certFile), ca: readFileSync(made.caFile) };
  };
  const nameOf = async (c: Docker.Container) => hostNameOf(await c.inspect());

  const info = async (stanza: string): Promise<ArchiveInfo> => {
    const out = await pgBackRestIn(docker, await tool(), paths, stanza, 'info', ['--output=json']);
    const parsed = parsePgBackRestInfo(out, stanza);
    const at = parsed.walMax ? archivedAt(stanzaDirs(deps.repo, stanza)[0]!, parsed.walMax) : undefined;
    return at ? { ...parsed, walMaxArchivedAt: at } : parsed;
  };

  return {
    async createStanza(stanza, leaderNodeId) {
      const { c } = await leader(leaderNodeId);
      await pgBackRestIn(docker, c, paths, stanza, 'stanza-create', localPgArgs(1));
    },

    async upgradeStanza(stanza, leaderNodeId) {
      const { c } = await leader(leaderNodeId);
      await pgBackRestIn(docker, c, paths, stanza, 'stanza-upgrade', localPgArgs(1));
    },

    async check(stanza, leaderNodeId) {
      const { c } = await leader(leaderNodeId);
      await pgBackRestIn(docker, c, paths, stanza, 'check', localPgArgs(1));
    },

    async backup(stanza, { leaderNodeId, standbyNodeId, type = 'full' }) {
      const { c } = await leader(leaderNodeId);
      let standby: string[] = [];
      if (standbyNodeId) {
        const s = await leader(standbyNodeId);
        const standbyName = await nameOf(s.c);
        await ensureServerIn(docker, s.c, paths, await certOf(standbyName));
        const remote = await remotePgArgs(docker, c, 2, standbyName, await certOf(await nameOf(c)));
        standby = [...remote, '--backup-standby'];
      }
      await pgBackRestIn(docker, c, paths, stanza, 'backup', [...localPgArgs(1), ...standby, ...backupArgs(type)]);
      const last = (await info(stanza)).backups.at(-1);
      if (!last) throw new Error(`pgbackrest backup of stanza ${stanza} left no backup in the repository`);
      return last;
    },

    info,

    async expire(stanza, { keepDays }) {
      await pgBackRestIn(docker, await tool(), paths, stanza, 'expire', expireArgs(keepDays));
    },

    restore: (nodeId, options) =>
      restoreInContainer(
        {
          docker,
          paths,
          up: async (id) => leader(id),
          writeConfig: deps.writeConfig,
          startServer: deps.startServer,
          superuserPassword: deps.superuserPassword,
        },
        nodeId,
        options,
        info,
      ),

    async remove(stanza) {
      const c = await tool();
      // stanza-delete wants the stanza stopped and a pg1-path whose server is not running.
      const none = `${paths.base}/no-server`;
      await execOk(docker, c, ['mkdir', '-p', none]);
      await pgBackRestIn(docker, c, paths, stanza, 'stop');
      try {
        await pgBackRestIn(docker, c, paths, stanza, 'stanza-delete', ['--force', `--pg1-path=${none}`]);
      } finally {
        await pgBackRestIn(docker, c, paths, stanza, 'start');
      }
      for (const dir of stanzaDirs(deps.repo, stanza)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
