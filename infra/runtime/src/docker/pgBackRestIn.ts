import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import {
  pgBackRestArgs,
  pgBackRestError,
  renderPgBackRestConfig,
  safeStanza,
  type PgBackRestPaths,
} from '@pgfleet/postgres';
import { containerName, execIn, execOk, hostNameOf, IN_CONTAINER, isStatus, LABEL } from './containers.js';
import { runScriptIn, shq, writeFilesLines } from './scriptIn.js';

/**
 * pgBackRest inside the containers. Each container has its own configuration, lock, log and spool
 * directories (on its volume: the nodes of a cluster never share a lock or a spool), and every
 * container of the runtime mounts one repository, a directory of the host, at the same path: the
 * archive_command of whichever node leads, the restore_command of every node and the backups all
 * read and write that one repository.
 */

const BASE = `${IN_CONTAINER.volume}/pitr`;

/** pgBackRest's paths inside a container, the repository being the host's `repo` mounted at the same path. */
export function pitrPathsIn(repo: string): PgBackRestPaths {
  return {
    base: BASE,
    config: `${BASE}/pgbackrest.conf`,
    includeDir: `${BASE}/conf.d`,
    repo,
    lock: `${BASE}/lock`,
    log: `${BASE}/log`,
    spool: `${BASE}/spool`,
  };
}

/** The bind mount of the repository every container of the runtime gets (the host directory made first). */
export function repoBind(repo: string): string {
  mkdirSync(repo, { recursive: true, mode: 0o700 });
  return `${repo}:${repo}`;
}

/** Rejects for a container that does not mount the repository (made before its runtime had one). */
export async function needRepoMount(c: Docker.Container, paths: PgBackRestPaths): Promise<void> {
  if (!(await c.inspect()).Mounts.some((m) => m.Destination === paths.repo)) {
    // A container made before its runtime had a repository: its WAL would go nowhere.
    throw new Error(`container ${c.id.slice(0, 12)} does not mount the pgBackRest repository ${paths.repo}`);
  }
}

/**
 * The script lines (run as root) making pgBackRest's directories in the container, owned by postgres,
 * and the repository owned by the container's postgres user (the images of the runtime share its uid).
 */
export function pitrDirLines(paths: PgBackRestPaths): string[] {
  const dirs = [paths.base, paths.includeDir, paths.lock, paths.log, paths.spool].join(' ');
  const repo = shq(paths.repo);
  return [
    `mkdir -p ${dirs} ${repo}`,
    `chown postgres:postgres ${IN_CONTAINER.volume} ${dirs} ${repo}`,
    `chmod 700 ${dirs} ${repo}`,
  ];
}

/**
 * pgBackRest's directories in the container (owned by postgres), its configuration (unless
 * `config` is false: the caller writes it), and the repository owned by the container's postgres
 * user, in one exec. Idempotent. Rejects for a container that does not mount the repository.
 */
export async function preparePitrIn(
  docker: Docker,
  c: Docker.Container,
  paths: PgBackRestPaths,
  config = true,
): Promise<void> {
  await needRepoMount(c, paths);
  const file = { path: paths.config, content: renderPgBackRestConfig(paths) };
  const write = config ? [...writeFilesLines([file]), `chown postgres:postgres ${shq(paths.config)}`] : [];
  await runScriptIn(docker, c, [...pitrDirLines(paths), ...write], { user: 'root' });
}

/** Run one pgBackRest command of a stanza in the container as postgres; rejects with pgBackRest's reason. */
export async function pgBackRestIn(
  docker: Docker,
  c: Docker.Container,
  paths: PgBackRestPaths,
  stanza: string,
  command: string,
  args: readonly string[] = [],
): Promise<string> {
  const r = await execIn(docker, c, ['pgbackrest', ...pgBackRestArgs(paths, stanza, command), ...args, command]);
  if (r.code !== 0) {
    const reason = `exit ${r.code}: ${pgBackRestError(`${r.stderr}\n${r.stdout}`)}`;
    throw new Error(`pgbackrest ${command} of stanza ${safeStanza(stanza)} failed: ${reason}`);
  }
  return r.stdout;
}

/** --pg{n}-* of the node in its own container (its socket, as the superuser postgres). */
export const localPgArgs = (n: number): string[] => [
  `--pg${n}-path=${IN_CONTAINER.dataDir}`,
  `--pg${n}-port=${IN_CONTAINER.port}`,
  `--pg${n}-socket-path=${IN_CONTAINER.socketDir}`,
  `--pg${n}-user=postgres`,
];

/** Where a container keeps the TLS files of pgBackRest's server and client (the runtime's pitr CA). */
const TLS = `${BASE}/tls`;
/** The common name of the runtime's pgBackRest certificates: servers authorize only it. */
export const PITR_CN = 'pgfleet-pitr';
const SERVER_PORT = 8432;

export interface PitrCert {
  key: Buffer;
  cert: Buffer;
  ca: Buffer;
}

async function copyCert(docker: Docker, c: Docker.Container, cert: PitrCert): Promise<void> {
  await runScriptIn(docker, c, [
    `mkdir -p ${TLS}`,
    ...writeFilesLines([
      { path: `${TLS}/client.key`, content: cert.key },
      { path: `${TLS}/client.crt`, content: cert.cert, mode: '644' },
      { path: `${TLS}/ca.crt`, content: cert.ca, mode: '644' },
    ]),
  ]);
}

/**
 * pgBackRest's TLS server running in the container (started detached unless one runs), with a
 * certificate naming the container, authorizing only clients of the runtime's CA with PITR_CN.
 * Resolves once it answers a ping.
 */
export async function ensureServerIn(
  docker: Docker,
  c: Docker.Container,
  paths: PgBackRestPaths,
  cert: PitrCert,
): Promise<void> {
  const running = await execIn(docker, c, ['pgrep', '-u', 'postgres', '-f', 'pgbackrest .*server$']);
  if (running.code === 0) return;
  await copyCert(docker, c, cert);
  const args = [
    `--config=${paths.config}`,
    `--config-include-path=${paths.includeDir}`,
    '--tls-server-address=*',
    `--tls-server-port=${SERVER_PORT}`,
    `--tls-server-cert-file=${TLS}/client.crt`,
    `--tls-server-key-file=${TLS}/client.key`,
    `--tls-server-ca-file=${TLS}/ca.crt`,
    `--tls-server-auth=${PITR_CN}=*`,
    'server',
  ];
  await execOk(docker, c, [
    'sh',
    '-c',
    `setsid "$@" >>${paths.log}/server.out 2>&1 </dev/null &`,
    'sh',
    'pgbackrest',
    ...args,
  ]);
  for (let i = 0; ; i++) {
    const name = hostNameOf(await c.inspect());
    const ping = await execIn(docker, c, ['pgbackrest', `--tls-server-port=${SERVER_PORT}`, 'server-ping', name]);
    if (ping.code === 0) return;
    if (i > 100) throw new Error(`pgbackrest server did not start in ${name}: ${(ping.stderr || ping.stdout).trim()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** --pg{n}-* of a node in another container of the cluster network, reached through its pgBackRest server. */
export async function remotePgArgs(
  docker: Docker,
  from: Docker.Container,
  n: number,
  host: string,
  cert: PitrCert,
): Promise<string[]> {
  await copyCert(docker, from, cert);
  return [
    `--pg${n}-host=${host}`,
    `--pg${n}-host-type=tls`,
    `--pg${n}-host-port=${SERVER_PORT}`,
    `--pg${n}-host-cert-file=${TLS}/client.crt`,
    `--pg${n}-host-key-file=${TLS}/client.key`,
    `--pg${n}-host-ca-file=${TLS}/ca.crt`,
    `--pg${n}-path=${IN_CONTAINER.dataDir}`,
    `--pg${n}-port=${IN_CONTAINER.port}`,
    `--pg${n}-socket-path=${IN_CONTAINER.socketDir}`,
  ];
}

/**
 * The runtime's archive tool container (`pgfleet-pitr-{12 hex digits of the repository path's hash}`,
 * one per repository): the node image sleeping on no
 * network with the repository mounted, for the commands that need no node (info, expire, remove).
 * Created and started on demand.
 */
export async function archiveToolContainer(
  docker: Docker,
  image: string,
  repo: string,
  paths: PgBackRestPaths,
): Promise<Docker.Container> {
  const name = containerName('pitr', createHash('sha256').update(repo).digest('hex').slice(0, 12));
  const c = docker.getContainer(name);
  try {
    await c.inspect();
  } catch (error) {
    if (!isStatus(error, 404)) throw error;
    try {
      await docker.createContainer({
        name,
        Image: image,
        Cmd: ['sleep', 'infinity'],
        Labels: { [LABEL.role]: 'pitr' },
        HostConfig: { Init: true, RestartPolicy: { Name: 'no' }, NetworkMode: 'none', Binds: [repoBind(repo)] },
      });
    } catch (raced) {
      if (!isStatus(raced, 409) && !/already in use|already exists/i.test((raced as Error).message)) throw raced;
    }
  }
  if (!(await c.inspect()).State.Running) {
    try {
      await c.start();
    } catch (error) {
      if (!isStatus(error, 304)) throw error;
    }
  }
  await preparePitrIn(docker, c, paths);
  return c;
}

/** The host directory of a stanza's archive and backups in the repository. */
export const stanzaDirs = (repo: string, stanza: string) => [
  join(repo, 'archive', safeStanza(stanza)),
  join(repo, 'backup', safeStanza(stanza)),
];
