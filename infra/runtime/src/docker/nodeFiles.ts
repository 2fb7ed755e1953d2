import { readFileSync } from 'node:fs';
import type Docker from 'dockerode';
import {
  archiveSettings,
  CLONED_MARKER,
  INITDB_OPTIONS,
  NODE_CONFIG_MARKER,
  pgString,
  primaryConninfo,
  quoteLiteral,
  renderHba,
  renderNodeConfig,
  renderPgBackRestConfig,
  type LeaderEndpoint,
  type PgBackRestPaths,
  withClient,
} from '@pgfleet/postgres';
import { NodeRuntimeError, type NodeEndpoint, type NodeInfo, type NodeSetup, type UpstreamLeader } from '../port.js';
import { execIn, execOk, IN_CONTAINER } from './containers.js';
import { needRepoMount, pitrDirLines, preparePitrIn } from './pgBackRestIn.js';
import { runScriptIn, shq, writeFilesLines, type FileIn } from './scriptIn.js';

/**
 * The files of a node inside its container, written through `exec` (the volume is not the host's
 * to write), each step's files in one script (scriptIn.ts): initdb, postgresql.conf and
 * pg_hba.conf rendered by @pgfleet/postgres, the TLS files copied in, a follower's passfile and
 * primary_conninfo. Every step is idempotent.
 */

const { dataDir, socketDir, tlsDir } = IN_CONTAINER;
const bin = (major: number, tool: string) => `/usr/lib/postgresql/${major}/bin/${tool}`;
/** The standby's password file for its leader (0600, in its data directory). */
const FOLLOWER_PASSFILE = `${dataDir}/pgfleet.pgpass`;
const LEADER_SETTINGS = /^\s*(primary_conninfo|primary_slot_name|synchronous_standby_names)\s*=/;

/** Write `content` to `path` in the container atomically (temp + rename), mode `mode`, as postgres. */
export async function writeFileIn(
  docker: Docker,
  c: Docker.Container,
  path: string,
  content: string | Buffer,
  mode = '600',
): Promise<void> {
  await runScriptIn(docker, c, writeFilesLines([{ path, content, mode }]));
}

/** A file of the container (as postgres); empty when it is missing. */
async function readFileIn(docker: Docker, c: Docker.Container, path: string): Promise<string> {
  const r = await execIn(docker, c, ['sh', '-c', 'cat "$1" 2>/dev/null || true', 'sh', path]);
  return r.stdout;
}

/** Prints the head of postgresql.conf when PostgreSQL's files are there (`initialized` reads it). */
export const INITIALIZED_PROBE =
  `if test -f ${dataDir}/PG_VERSION; then ` + `head -c 200 ${dataDir}/postgresql.conf 2>/dev/null || true; fi`;
/** PostgreSQL files present and pgfleet's configuration written (its last step), from INITIALIZED_PROBE's output. */
const initialized = (probe: string) => probe.startsWith(NODE_CONFIG_MARKER);

/**
 * The volume's directories, owned by postgres (a fresh volume belongs to root), and with `pitr`
 * pgBackRest's (`pitrDirLines`), in one exec as root; resolves with whether the node is initialized.
 */
export async function prepareVolume(docker: Docker, c: Docker.Container, pitr?: PgBackRestPaths): Promise<boolean> {
  const all = [dataDir, socketDir, tlsDir].join(' ');
  const lines = [
    `mkdir -p ${all}`,
    `chown postgres:postgres ${IN_CONTAINER.volume} ${all}`,
    `chmod 700 ${all}`,
    ...(pitr ? pitrDirLines(pitr) : []),
    INITIALIZED_PROBE,
  ];
  return initialized(await runScriptIn(docker, c, lines, { user: 'root', name: 'preparing the volume' }));
}

/** PostgreSQL files present and pgfleet's configuration written (its last step). */
export async function isInitializedIn(docker: Docker, c: Docker.Container): Promise<boolean> {
  const r = await execIn(docker, c, ['sh', '-c', INITIALIZED_PROBE]);
  return r.code === 0 && initialized(r.stdout);
}

/**
 * postgresql.conf and pg_hba.conf of a node in a container: listening on every address of the
 * container on the in-container port, TCP allowed from the cluster's network (`subnet`), the
 * container itself and `peers` (a multi-host runtime's host addresses); the plan's sizing, the
 * archive's settings (pgBackRest in the container, `pitr`) and the user's parameters as on the
 * process driver.
 */
function renderContainerConfig(
  info: NodeInfo,
  setup: NodeSetup,
  subnet: string,
  pitr: PgBackRestPaths | undefined,
  peers: readonly string[],
): { conf: string; hba: string } {
  if (setup.forceTls && !setup.tls) throw new Error(`node ${info.nodeId}: forcing TLS needs the node's TLS material`);
  if (setup.archive && !pitr) {
    const message = `node ${info.nodeId}: this docker runtime has no pgBackRest repository to archive WAL into`;
    throw new NodeRuntimeError('NOT_SUPPORTED', message, { nodeId: info.nodeId });
  }
  const tls = setup.tls
    ? { certFile: `${tlsDir}/server.crt`, keyFile: `${tlsDir}/server.key`, caFile: `${tlsDir}/ca.crt` }
    : undefined;
  const conf = renderNodeConfig({
    plan: setup.plan,
    port: IN_CONTAINER.port,
    dataDir,
    socketDir,
    ...(setup.clusterName ? { clusterName: setup.clusterName } : {}),
    ...(tls ? { tls } : {}),
    extra: {
      listen_addresses: pgString('*'),
      ...(setup.archive && pitr ? archiveSettings(pitr, setup.archive.stanza, dataDir) : {}),
      ...setup.parameters,
    },
  });
  const hba = renderHba({
    replicationRole: 'replicator',
    addresses: [subnet, '127.0.0.1/32', ...peers],
    ...(setup.forceTls ? { forceTls: true } : {}),
  });
  return { conf, hba };
}

/** The node's TLS key, certificate and cluster CA, from the platform's files, as files of the container. */
const tlsFiles = (tls: NonNullable<NodeSetup['tls']>): FileIn[] => [
  { path: `${tlsDir}/server.key`, content: readFileSync(tls.keyFile) },
  { path: `${tlsDir}/server.crt`, content: readFileSync(tls.certFile) },
  { path: `${tlsDir}/ca.crt`, content: readFileSync(tls.caFile) },
];

/** What writeConfigIn writes besides the configuration, and what it does after. */
export interface ConfigExtras {
  /** Files written first (a copy's standby files). */
  before?: readonly FileIn[];
  /** Reload the server when it runs, last. */
  reload?: boolean;
}

/**
 * The node's configuration in one exec: `extras.before`, the TLS files, pgBackRest's configuration
 * when it archives (its directories made by prepareVolume or preparePitrIn), postgresql.conf last
 * (it marks a complete node); then a reload of a running server when `extras.reload`.
 */
async function writeConfigIn(
  docker: Docker,
  c: Docker.Container,
  info: NodeInfo,
  setup: NodeSetup,
  subnet: string,
  pitr?: PgBackRestPaths,
  peers: readonly string[] = [],
  extras: ConfigExtras = {},
): Promise<void> {
  const { conf, hba } = renderContainerConfig(info, setup, subnet, pitr, peers);
  const pgCtl = `${bin(info.major, 'pg_ctl')} -D ${dataDir}`;
  await runScriptIn(
    docker,
    c,
    [
      ...writeFilesLines([
        ...(extras.before ?? []),
        ...(setup.tls ? tlsFiles(setup.tls) : []),
        ...(setup.archive && pitr ? [{ path: pitr.config, content: renderPgBackRestConfig(pitr) }] : []),
      ]),
      `mkdir -p ${dataDir}/log`,
      ...writeFilesLines([
        { path: `${dataDir}/pg_hba.conf`, content: hba },
        { path: `${dataDir}/postgresql.conf`, content: conf },
      ]),
      ...(extras.reload ? [`if ${pgCtl} status >/dev/null 2>&1; then ${pgCtl} reload >/dev/null || true; fi`] : []),
    ],
    { name: 'writing the configuration' },
  );
}

/**
 * A driver's configuration steps of its nodes: `writeConfig` (writeConfigIn, pgBackRest's
 * directories made first for an archiving node unless `prepared`) and `prepareNode` (prepareVolume
 * with pgBackRest's directories when `setup` archives: is the node initialized?).
 */
export function nodeConfigSteps(
  docker: Docker,
  pitr: PgBackRestPaths,
  subnetOf: (info: NodeInfo) => Promise<string>,
  peers?: readonly string[],
) {
  return {
    async writeConfig(
      c: Docker.Container,
      info: NodeInfo,
      setup: NodeSetup,
      extras: ConfigExtras & { prepared?: boolean } = {},
    ): Promise<void> {
      if (setup.archive && !extras.prepared) await preparePitrIn(docker, c, pitr, false);
      await writeConfigIn(docker, c, info, setup, await subnetOf(info), pitr, peers, extras);
    },
    async prepareNode(c: Docker.Container, setup: NodeSetup): Promise<boolean> {
      if (setup.archive) await needRepoMount(c, pitr);
      return prepareVolume(docker, c, setup.archive ? pitr : undefined);
    },
  };
}

/**
 * initdb (every node's options) with the superuser's password read from a 0600 file the script
 * removes, when the data directory is not complete (what an interrupted attempt left is emptied).
 */
export async function initdbIn(docker: Docker, c: Docker.Container, major: number, password: string): Promise<void> {
  const pw = `${socketDir}/.initdb.pw`;
  const script = [
    `find ${dataDir} -mindepth 1 -delete`,
    `umask 077 && cat > ${pw}`,
    `"$@" --pwfile=${pw}; rc=$?`,
    `rm -f ${pw}`,
    'exit $rc',
  ].join('\n');
  const args = [bin(major, 'initdb'), '-D', dataDir, ...INITDB_OPTIONS];
  await execOk(docker, c, ['sh', '-c', script, 'sh', ...args], { input: `${password}\n` });
}

/** `leader` as this node reaches it: verify-full against the node's CA copy when it has TLS. */
export function leaderFrom(leader: UpstreamLeader, tls: boolean): LeaderEndpoint {
  if (!tls) return leader;
  return { ...leader, sslmode: leader.sslmode ?? 'verify-full', sslrootcert: `${tlsDir}/ca.crt` };
}

const passLine = (l: LeaderEndpoint, database: string) =>
  [l.host, String(l.port), database, l.user, l.password].map((v) => v.replace(/\\/g, '\\\\').replace(/:/g, '\\:'));

/**
 * pg_basebackup of `leader` into the empty data directory (WAL streamed, slot `slotName` created),
 * its leftover unused slot dropped first; the password in a 0600 passfile removed after. The node's
 * TLS files (`tls`) are copied in first: the cluster CA verifies the leader (verify-full). One exec;
 * resolves with the copy's postgresql.auto.conf (for standbyFiles).
 */
export async function basebackupIn(
  docker: Docker,
  c: Docker.Container,
  major: number,
  leader: LeaderEndpoint,
  slotName: string,
  tls?: NodeSetup['tls'],
): Promise<string> {
  if (!/^[a-z0-9_]{1,63}$/.test(slotName)) throw new Error(`slot name "${slotName}" must be 1-63 of a-z, 0-9, "_"`);
  const passfile = `${socketDir}/.clone.pgpass`;
  const env = [
    `PGPASSFILE=${passfile}`,
    'PGAPPNAME=pgfleet-clone',
    ...(leader.sslmode ? [`PGSSLMODE=${shq(leader.sslmode)}`] : []),
    ...(leader.sslrootcert ? [`PGSSLROOTCERT=${shq(leader.sslrootcert)}`] : []),
  ].map((e) => `export ${e}`);
  const connection = ['-h', leader.host, '-p', String(leader.port), '-U', leader.user, '--no-password'].map(shq);
  // Best effort: a replication role that may not open a SQL session leaves pg_basebackup to report the slot.
  const drop =
    'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots' +
    ` WHERE slot_name = '${slotName}' AND NOT active`;
  const clone = ['-D', dataDir, '-R', '-X', 'stream', '-C', `--slot=${slotName}`, '--checkpoint=fast'];
  return runScriptIn(
    docker,
    c,
    [
      ...writeFilesLines([
        ...(tls ? tlsFiles(tls) : []),
        { path: passfile, content: `${passLine(leader, '*').join(':')}\n` },
      ]),
      ...env,
      `trap 'rm -f ${passfile}' EXIT`,
      `${bin(major, 'psql')} ${connection.join(' ')} -d postgres -c ${shq(drop)} >/dev/null 2>&1 || true`,
      `find ${dataDir} -mindepth 1 -delete`,
      `${bin(major, 'pg_basebackup')} ${clone.join(' ')} ${connection.join(' ')}`,
      // The leader's socket locks and logs came along; they are not this node's.
      `rm -f ${dataDir}/.s.PGSQL.* && rm -rf ${dataDir}/log/*`,
      `cat ${dataDir}/postgresql.auto.conf 2>/dev/null || true`,
    ],
    { name: 'pg_basebackup' },
  );
}

/**
 * The files pointing a stopped node's data directory at `leader`: passfile, postgresql.auto.conf
 * (`autoConf`, its current text) with the new primary_conninfo and primary_slot_name (no
 * synchronous_standby_names), standby.signal when `standby`; with `cloned`, the copy's marker.
 */
export function standbyFiles(
  leader: LeaderEndpoint,
  slotName: string,
  standby: boolean,
  autoConf: string,
  cloned = false,
): FileIn[] {
  const kept = autoConf.split('\n').filter((l) => l.trim() && !LEADER_SETTINGS.test(l));
  kept.push(
    `primary_conninfo = ${pgString(primaryConninfo(leader, FOLLOWER_PASSFILE, slotName))}`,
    `primary_slot_name = ${pgString(slotName)}`,
  );
  return [
    { path: FOLLOWER_PASSFILE, content: `${passLine(leader, 'replication').join(':')}\n` },
    { path: `${dataDir}/postgresql.auto.conf`, content: `${kept.join('\n')}\n` },
    ...(standby ? [{ path: `${dataDir}/standby.signal`, content: '' }] : []),
    ...(cloned ? [{ path: `${dataDir}/${CLONED_MARKER}`, content: 'copied from the stopped leader\n' }] : []),
  ];
}

/** Point a stopped node's data directory at `leader` (standbyFiles). */
async function writeStandbyIn(
  docker: Docker,
  c: Docker.Container,
  leader: LeaderEndpoint,
  slotName: string,
  standby: boolean,
): Promise<void> {
  const autoConf = await readFileIn(docker, c, `${dataDir}/postgresql.auto.conf`);
  await runScriptIn(docker, c, writeFilesLines(standbyFiles(leader, slotName, standby, autoConf)));
}

/** The follower's passfile for its leader (0600, in its data directory), read by its primary_conninfo. */
async function writeLeaderPassfileIn(docker: Docker, c: Docker.Container, leader: LeaderEndpoint): Promise<void> {
  await writeFileIn(docker, c, FOLLOWER_PASSFILE, `${passLine(leader, 'replication').join(':')}\n`);
}

const conninfoFor = (leader: LeaderEndpoint, slotName: string) => primaryConninfo(leader, FOLLOWER_PASSFILE, slotName);

/**
 * Point the node at `leader`: a running standby by ALTER SYSTEM and a reload, a stopped node
 * through its files (standby.signal when it must become a standby). A running leader is refused.
 */
export async function pointAtIn(
  docker: Docker,
  { c, info }: { c: Docker.Container; info: NodeInfo },
  leader: UpstreamLeader,
  slot: string,
  standby: boolean,
  endpoint: () => Promise<NodeEndpoint>,
): Promise<void> {
  const hasTls = (await execIn(docker, c, ['test', '-f', `${tlsDir}/ca.crt`])).code === 0;
  const upstream = leaderFrom(leader, hasTls);
  const running = (await execIn(docker, c, [bin(info.major, 'pg_ctl'), '-D', dataDir, 'status'])).code === 0;
  if (!running) {
    await writeStandbyIn(docker, c, upstream, slot, standby);
    return;
  }
  await withClient(await endpoint(), async (q) => {
    const { rec } = (await q.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec')).rows[0]!;
    if (!rec) throw new Error(`node ${info.nodeId} is a leader, not a standby`);
    await writeLeaderPassfileIn(docker, c, upstream);
    await q.query(`ALTER SYSTEM SET primary_conninfo = ${quoteLiteral(conninfoFor(upstream, slot))}`);
    await q.query(`ALTER SYSTEM SET primary_slot_name = ${quoteLiteral(slot)}`);
    await q.query('SELECT pg_reload_conf()');
  });
}
