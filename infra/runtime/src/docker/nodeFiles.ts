import { readFileSync } from 'node:fs';
import type Docker from 'dockerode';
import {
  archiveSettings,
  INITDB_OPTIONS,
  NODE_CONFIG_MARKER,
  pgString,
  primaryConninfo,
  quoteLiteral,
  renderHba,
  renderNodeConfig,
  type LeaderEndpoint,
  type PgBackRestPaths,
  withClient,
} from '@pgfleet/postgres';
import { NodeRuntimeError, type NodeEndpoint, type NodeInfo, type NodeSetup, type UpstreamLeader } from '../port.js';
import { execIn, execOk, IN_CONTAINER } from './containers.js';

/**
 * The files of a node inside its container, written through `exec` (the volume is not the host's
 * to write): initdb, postgresql.conf and pg_hba.conf rendered by @pgfleet/postgres, the TLS files
 * copied in, a follower's passfile and primary_conninfo. Every step is idempotent.
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
  const script = 'umask 077 && cat > "$1.tmp" && chmod "$2" "$1.tmp" && mv "$1.tmp" "$1"';
  await execOk(docker, c, ['sh', '-c', script, 'sh', path, mode], { input: content });
}

/** A file of the container (as postgres); empty when it is missing. */
async function readFileIn(docker: Docker, c: Docker.Container, path: string): Promise<string> {
  const r = await execIn(docker, c, ['sh', '-c', 'cat "$1" 2>/dev/null || true', 'sh', path]);
  return r.stdout;
}

/** The volume's directories, owned by postgres (a fresh volume belongs to root). */
export async function prepareVolume(docker: Docker, c: Docker.Container): Promise<void> {
  const dirs = [dataDir, socketDir, tlsDir];
  const all = dirs.join(' ');
  const script = `mkdir -p ${all} && chown postgres:postgres ${IN_CONTAINER.volume} ${all} && chmod 700 ${all}`;
  await execOk(docker, c, ['sh', '-c', script], { user: 'root' });
}

/** PostgreSQL files present and pgfleet's configuration written (its last step). */
export async function isInitializedIn(docker: Docker, c: Docker.Container): Promise<boolean> {
  const script = `test -f ${dataDir}/PG_VERSION && head -c 200 ${dataDir}/postgresql.conf`;
  const r = await execIn(docker, c, ['sh', '-c', script]);
  return r.code === 0 && r.stdout.startsWith(NODE_CONFIG_MARKER);
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

/** The node's TLS key, certificate and cluster CA copied from the platform's files into the container. */
async function copyTls(docker: Docker, c: Docker.Container, tls: NonNullable<NodeSetup['tls']>): Promise<void> {
  await writeFileIn(docker, c, `${tlsDir}/server.key`, readFileSync(tls.keyFile));
  await writeFileIn(docker, c, `${tlsDir}/server.crt`, readFileSync(tls.certFile));
  await writeFileIn(docker, c, `${tlsDir}/ca.crt`, readFileSync(tls.caFile));
}

/** The node's configuration (TLS files first, postgresql.conf last: it marks a complete node). */
export async function writeConfigIn(
  docker: Docker,
  c: Docker.Container,
  info: NodeInfo,
  setup: NodeSetup,
  subnet: string,
  pitr?: PgBackRestPaths,
  peers: readonly string[] = [],
): Promise<void> {
  const { conf, hba } = renderContainerConfig(info, setup, subnet, pitr, peers);
  if (setup.tls) await copyTls(docker, c, setup.tls);
  await execOk(docker, c, ['mkdir', '-p', `${dataDir}/log`]);
  await writeFileIn(docker, c, `${dataDir}/pg_hba.conf`, hba);
  await writeFileIn(docker, c, `${dataDir}/postgresql.conf`, conf);
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
 * TLS files (`tls`) are copied in first: the cluster CA verifies the leader (verify-full).
 */
export async function basebackupIn(
  docker: Docker,
  c: Docker.Container,
  major: number,
  leader: LeaderEndpoint,
  slotName: string,
  tls?: NodeSetup['tls'],
): Promise<void> {
  if (!/^[a-z0-9_]{1,63}$/.test(slotName)) throw new Error(`slot name "${slotName}" must be 1-63 of a-z, 0-9, "_"`);
  if (tls) await copyTls(docker, c, tls);
  const passfile = `${socketDir}/.clone.pgpass`;
  await writeFileIn(docker, c, passfile, `${passLine(leader, '*').join(':')}\n`);
  const tlsEnv = {
    ...(leader.sslmode ? { PGSSLMODE: leader.sslmode } : {}),
    ...(leader.sslrootcert ? { PGSSLROOTCERT: leader.sslrootcert } : {}),
  };
  const env = { PGPASSFILE: passfile, PGAPPNAME: 'pgfleet-clone', ...tlsEnv };
  const connection = ['-h', leader.host, '-p', String(leader.port), '-U', leader.user, '--no-password'];
  try {
    // Best effort: a replication role that may not open a SQL session leaves pg_basebackup to report the slot.
    const drop =
      'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots' +
      ` WHERE slot_name = '${slotName}' AND NOT active`;
    await execIn(docker, c, [bin(major, 'psql'), ...connection, '-d', 'postgres', '-c', drop], { env });
    await execOk(docker, c, ['find', dataDir, '-mindepth', '1', '-delete']);
    const clone = ['-D', dataDir, '-R', '-X', 'stream', '-C', `--slot=${slotName}`, '--checkpoint=fast'];
    await execOk(docker, c, [bin(major, 'pg_basebackup'), ...clone, ...connection], { env });
  } finally {
    await execIn(docker, c, ['rm', '-f', passfile]);
  }
  // The leader's socket locks and logs came along; they are not this node's.
  await execOk(docker, c, ['sh', '-c', `rm -f ${dataDir}/.s.PGSQL.* && rm -rf ${dataDir}/log/*`]);
}

/**
 * Point a stopped node's data directory at `leader`: passfile, postgresql.auto.conf with the new
 * primary_conninfo and primary_slot_name (no synchronous_standby_names), standby.signal when `standby`.
 */
export async function writeStandbyIn(
  docker: Docker,
  c: Docker.Container,
  leader: LeaderEndpoint,
  slotName: string,
  standby: boolean,
): Promise<void> {
  await writeLeaderPassfileIn(docker, c, leader);
  const autoConf = `${dataDir}/postgresql.auto.conf`;
  const kept = (await readFileIn(docker, c, autoConf)).split('\n').filter((l) => l.trim() && !LEADER_SETTINGS.test(l));
  kept.push(
    `primary_conninfo = ${pgString(primaryConninfo(leader, FOLLOWER_PASSFILE, slotName))}`,
    `primary_slot_name = ${pgString(slotName)}`,
  );
  await writeFileIn(docker, c, autoConf, `${kept.join('\n')}\n`);
  if (standby) await writeFileIn(docker, c, `${dataDir}/standby.signal`, '');
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
