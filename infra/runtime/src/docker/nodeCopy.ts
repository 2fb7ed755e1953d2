import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { CLONED_MARKER, nodeSettings, type LeaderEndpoint } from '@pgfleet/postgres';
import { NodeRuntimeError, type NodeInfo, type NodeSetup } from '../port.js';
import { execIn, execOk, IN_CONTAINER, startExec } from './containers.js';
import { controlDataIn, postmasterPid } from './nodeContainer.js';
import { isInitializedIn, prepareVolume, writeFileIn, writeStandbyIn } from './nodeFiles.js';

/**
 * Data directories moved between containers: a cold copy of a stopped leader's volume into a new
 * follower (tar streamed from one container's exec into the other's, on one host or two), and
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

/**
 * Fill the empty volume of `target` with the files of the stopped `source` (refused when `setup` gives
 * fewer connections or WAL senders than its control file records; a tar stream from its
 * container to the target's), then make it a standby of `leader` on `slotName` (its first start
 * replays what it holds and streams the rest: the cloned marker keeps it off the archive meanwhile).
 * The caller writes the configuration after (postgresql.conf, last, marks it complete).
 */
export async function copyStoppedIn(
  docker: Docker,
  source: Node,
  target: Node,
  leader: LeaderEndpoint,
  slotName: string,
  setup: NodeSetup,
): Promise<void> {
  const from = source.docker ?? docker;
  if ((await postmasterPid(from, source.c, source.info)) !== undefined) {
    const message = `node ${source.info.nodeId} runs: a follower is copied only from a stopped, new leader`;
    throw new NodeRuntimeError('STOP_FAILED', message, {
      nodeId: target.info.nodeId,
      sourceNodeId: source.info.nodeId,
    });
  }
  if (!(await isInitializedIn(from, source.c))) {
    throw new Error(`node ${source.info.nodeId} has no initialized data directory to copy`);
  }
  // A standby refuses to recover with fewer connections or WAL senders than its primary's control
  // file records (initdb's own values here, until the leader's first checkpoint).
  const control = await controlDataIn(from, source.c, source.info);
  const settings = { ...nodeSettings({ plan: setup.plan, port: IN_CONTAINER.port, dataDir }), ...setup.parameters };
  for (const name of ['max_connections', 'max_wal_senders']) {
    const recorded = Number(control[`${name} setting`]);
    if (Number(settings[name]) < recorded)
      throw new Error(
        `cannot copy node ${source.info.nodeId}: ${name} ${settings[name]} is below its recorded ${recorded}`,
      );
  }
  await prepareVolume(docker, target.c);
  await execOk(docker, target.c, ['find', dataDir, '-mindepth', '1', '-delete']);
  const excludes = [...NOT_COPIED, CLONED_MARKER].map((f) => `--exclude=./${f}`);
  const pipe = new PassThrough();
  const into = await startExec(docker, target.c, ['tar', '-C', dataDir, '-xpf', '-'], { stdin: pipe });
  const read = await startExec(from, source.c, ['tar', '-C', dataDir, ...excludes, '-cf', '-', '.'], {
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
  await execOk(docker, target.c, ['mkdir', '-p', `${dataDir}/log`]);
  await writeStandbyIn(docker, target.c, leader, slotName, true);
  await writeFileIn(docker, target.c, `${dataDir}/${CLONED_MARKER}`, 'copied from the stopped leader\n');
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
