import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import {
  CLONED_MARKER,
  NODE_CONFIG_MARKER,
  nodeSettings,
  parseControlData,
  type LeaderEndpoint,
} from '@pgfleet/postgres';
import { NodeRuntimeError, type NodeInfo, type NodeSetup } from '../port.js';
import { execIn, execOk, IN_CONTAINER, startExec } from './containers.js';
import { postmasterPid } from './nodeContainer.js';
import { INITIALIZED_PROBE, standbyFiles, writeFileIn } from './nodeFiles.js';
import { shq, type FileIn } from './scriptIn.js';

/**
 * Data directories moved between containers: a cold copy of a stopped leader's volume into a new
 * follower (a gzip'ed tar streamed from one container's exec into the other's, on one host or two), and
 * pg_rewind of a stopped old leader against the new leader over the cluster network.
 */

const { dataDir, socketDir } = IN_CONTAINER;
/** What a copy leaves out: the source's own configuration, lock files, logs and follower files. */
const NOT_COPIED = ['postgresql.conf', 'pg_hba.conf', 'postmaster.pid', 'postmaster.opts', 'log', 'pgfleet.pgpass'];

interface Node {
  c: Docker.Container;
  info: NodeInfo;
  /** The node's engine, when it is not the driver's own (a multi-host runtime's other host). */
  docker?: Docker;
}

/** The source's checks in one exec: exit 10 running, 11 not initialized, else its pg_controldata. */
const sourceScript = (major: number) =>
  [
    `if /usr/lib/postgresql/${major}/bin/pg_ctl -D ${dataDir} status >/dev/null 2>&1; then exit 10; fi`,
    `case "$(${INITIALIZED_PROBE})" in ${shq(NODE_CONFIG_MARKER)}*) ;; *) exit 11 ;; esac`,
    `exec /usr/lib/postgresql/${major}/bin/pg_controldata -D ${dataDir}`,
  ].join('\n');

/**
 * Fill the empty, prepared volume of `target` (prepareVolume) with the files of the stopped `source`
 * (refused when `setup` gives fewer connections or WAL senders than its control file records): a
 * gzip'ed tar stream from its container to the target's, on one host or two. Resolves with the
 * files making it a standby of `leader` on `slotName` (its first start replays what it holds and
 * streams the rest: the cloned marker among them keeps it off the archive meanwhile), for the
 * caller to write with the configuration (postgresql.conf, last, marks it complete).
 */
export async function copyStoppedIn(
  docker: Docker,
  source: Node,
  target: Node,
  leader: LeaderEndpoint,
  slotName: string,
  setup: NodeSetup,
): Promise<FileIn[]> {
  const from = source.docker ?? docker;
  const checked = await execIn(from, source.c, ['sh', '-c', sourceScript(source.info.major)], {
    env: { LC_ALL: 'C', LANG: 'C' },
  });
  if (checked.code === 10) {
    const message = `node ${source.info.nodeId} runs: a follower is copied only from a stopped, new leader`;
    throw new NodeRuntimeError('STOP_FAILED', message, {
      nodeId: target.info.nodeId,
      sourceNodeId: source.info.nodeId,
    });
  }
  if (checked.code === 11) throw new Error(`node ${source.info.nodeId} has no initialized data directory to copy`);
  if (checked.code !== 0) {
    const message = `node ${source.info.nodeId} has no control file yet: ${checked.stderr.trim()}`;
    throw new NodeRuntimeError('NOT_INITIALIZED', message, { nodeId: source.info.nodeId });
  }
  // A standby refuses to recover with fewer connections or WAL senders than its primary's control
  // file records (initdb's own values here, until the leader's first checkpoint).
  const control = parseControlData(checked.stdout);
  const settings = { ...nodeSettings({ plan: setup.plan, port: IN_CONTAINER.port, dataDir }), ...setup.parameters };
  for (const name of ['max_connections', 'max_wal_senders']) {
    const recorded = Number(control[`${name} setting`]);
    if (Number(settings[name]) < recorded)
      throw new Error(
        `cannot copy node ${source.info.nodeId}: ${name} ${settings[name]} is below its recorded ${recorded}`,
      );
  }
  // Compressed: what costs is the bytes through the engines' exec streams (a fresh data
  // directory is mostly zeros), not gzip's time.
  const excludes = [...NOT_COPIED, CLONED_MARKER].map((f) => `--exclude=./${f}`);
  const pipe = new PassThrough();
  const write = [
    `find ${dataDir} -mindepth 1 -delete`,
    `tar -C ${dataDir} -xzpf -`,
    `mkdir -p ${dataDir}/log`,
    `{ cat ${dataDir}/postgresql.auto.conf 2>/dev/null || true; }`,
  ].join(' && ');
  const into = await startExec(docker, target.c, ['sh', '-c', write], { stdin: pipe });
  const read = await startExec(from, source.c, ['tar', '-C', dataDir, ...excludes, '-I', 'gzip -1', '-cf', '-', '.'], {
    onStdout: pipe,
  });
  const sent = await read.result;
  pipe.end();
  const received = await into.result;
  for (const [what, r] of [
    ['read', sent],
    ['write', received],
  ] as const) {
    if (r.code !== 0) throw new Error(`copy of node ${source.info.nodeId} failed to ${what}: ${r.stderr.trim()}`);
  }
  return standbyFiles(leader, slotName, true, received.stdout, true);
}

/**
 * pg_rewind of the stopped node onto the timeline of the server at `source` (a container of the
 * cluster network, as its superuser with `password` in a passfile removed after), the node's own
 * configuration files and passfile put back whatever happened; WAL it no longer holds comes from
 * the archive when it has a restore_command (--restore-target-wal). Rejects with pg_rewind's reason.
 */
export async function rewindIn(
  docker: Docker,
  node: Node,
  source: { host: string; port: number; password: string | undefined },
): Promise<void> {
  const { c, info } = node;
  if ((await postmasterPid(docker, c, info)) !== undefined) {
    throw new NodeRuntimeError('STOP_FAILED', `node ${info.nodeId} runs: stop it before a rewind`, {
      nodeId: info.nodeId,
    });
  }
  const keep = `${IN_CONTAINER.volume}/.rewind-keep`;
  const passfile = `${socketDir}/.rewind.pgpass`;
  const save = [
    `rm -rf ${keep} && mkdir ${keep} && cp -p ${dataDir}/*.conf ${keep}/`,
    `(cp -p ${dataDir}/pgfleet.pgpass ${keep}/ 2>/dev/null; true)`,
  ].join(' && ');
  await execOk(docker, c, ['sh', '-c', `${save} && rm -f ${dataDir}/postmaster.pid`]);
  const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
  await writeFileIn(docker, c, passfile, `*:*:*:postgres:${esc(source.password ?? '')}\n`);
  const archived =
    (await execIn(docker, c, ['grep', '-q', '^restore_command', `${dataDir}/postgresql.conf`])).code === 0;
  const conninfo = `host=${source.host} port=${source.port} user=postgres dbname=postgres`;
  const bin = `/usr/lib/postgresql/${info.major}/bin/pg_rewind`;
  const args = ['--target-pgdata', dataDir, '--source-server', conninfo, ...(archived ? ['--restore-target-wal'] : [])];
  try {
    const r = await execIn(docker, c, [bin, ...args], { env: { PGPASSFILE: passfile }, workingDir: dataDir });
    if (r.code !== 0) {
      const lines = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
      throw new Error(`pg_rewind failed (exit ${r.code}): ${lines}`);
    }
  } finally {
    await execIn(docker, c, ['sh', '-c', `cp -p ${keep}/* ${dataDir}/; rm -rf ${keep} ${passfile}`]);
  }
}
