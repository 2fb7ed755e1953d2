import { nodeHostName } from '@pgfleet/contracts';
import type Docker from 'dockerode';
import { CLONED_MARKER, NODE_CONFIG_MARKER, parseControlData } from '@pgfleet/postgres';
import { NodeRuntimeError, type NodeInfo, type NodeSpec, type StopMode } from '../port.js';
import {
  containerName,
  containersOfCluster,
  execIn,
  execOk,
  IN_CONTAINER,
  isStatus,
  LABEL,
  networkName,
  nodeOfLabels,
  volumeName,
} from './containers.js';
import { INITIALIZED_PROBE } from './nodeFiles.js';
import { shq } from './scriptIn.js';

/**
 * One node's container: its creation (labels, volume, network, port) and the server's
 * life inside it (pg_ctl through exec). The container's main process is `sleep infinity` under an
 * init that reaps orphans, so the container stays up while PostgreSQL is stopped, started or
 * killed inside it, and every PostgreSQL process in it is this node's.
 */

const { dataDir, socketDir, pgCtlLog } = IN_CONTAINER;
const pgBin = (info: NodeInfo, tool: string) => `/usr/lib/postgresql/${info.major}/bin/${tool}`;

/**
 * The container of `spec` on the cluster's network `network`, from `image`; created, not started.
 * Its port (`spec.port`, a label of the node's) is published only on the addresses `publishOn` (a
 * multi-host runtime's advertised address of the host, which the other hosts' containers reach):
 * on one host nothing is published, the control plane reaches the container's address on its
 * network (dockerRuntime's `endpoint`).
 */
export async function createNodeContainer(
  docker: Docker,
  spec: NodeSpec,
  image: string,
  network: string,
  binds: readonly string[] = [],
  publishOn: readonly string[] = [],
  /** Its address on the network: a container remade for a node keeps the one it had (gateways resolve it). */
  address?: string,
): Promise<void> {
  const labels = {
    [LABEL.cluster]: spec.clusterId,
    [LABEL.node]: spec.nodeId,
    [LABEL.major]: String(spec.major),
    [LABEL.port]: String(spec.port),
    [LABEL.role]: 'node',
  };
  const volume = volumeName(spec.clusterId, spec.nodeId);
  try {
    await docker.createVolume({ Name: volume, Labels: labels });
  } catch (error) {
    // Its volume outlives a container remade for the node (a major upgrade): keep it.
    if (!isStatus(error, 409) && !/already exists/i.test((error as Error).message)) throw error;
  }
  const name = containerName(spec.clusterId, spec.nodeId);
  const port = `${IN_CONTAINER.port}/tcp`;
  await docker.createContainer({
    name,
    // A valid host name (at most 63 characters) whatever the length of the cluster's name.
    Hostname: nodeHostName(spec.nodeId),
    Image: image,
    Cmd: ['sleep', 'infinity'],
    Labels: labels,
    ExposedPorts: { [port]: {} },
    HostConfig: {
      Init: true,
      // The HA service decides what comes back, not the engine.
      RestartPolicy: { Name: 'no' },
      NetworkMode: network,
      ...(publishOn.length > 0
        ? { PortBindings: { [port]: publishOn.map((HostIp) => ({ HostIp, HostPort: String(spec.port) })) } }
        : {}),
      Binds: [`${volume}:${IN_CONTAINER.volume}`, ...binds],
    },
    // Its peers reach it by its host name, which its certificate carries (nodeCertNames).
    NetworkingConfig: {
      EndpointsConfig: {
        [network]: {
          Aliases: [name, nodeHostName(spec.nodeId)],
          ...(address ? { IPAMConfig: { IPv4Address: address } } : {}),
        },
      },
    },
  });
}

/** Start the container when it is not running (it gets its address on its network then). */
export async function ensureRunning(c: Docker.Container, info: NodeInfo): Promise<void> {
  const state = (await c.inspect()).State;
  if (state.Running) return;
  try {
    await c.start();
  } catch (error) {
    if (isStatus(error, 304)) return; // started meanwhile
    const message = `the container of node ${info.nodeId} did not start: ${(error as Error).message}`;
    throw new NodeRuntimeError('START_FAILED', message, { nodeId: info.nodeId, port: info.port });
  }
}

/**
 * The running container's IPv4 address on its cluster network, which the host routes (its bridge's
 * subnet); read each time, never kept: a restarted container may get another.
 */
export async function containerAddress(c: Docker.Container, info: NodeInfo): Promise<string> {
  const network = networkName(info.clusterId);
  const address = (await c.inspect()).NetworkSettings.Networks[network]?.IPAddress;
  if (!address) throw new Error(`the container of node ${info.nodeId} has no address on network ${network}`);
  return address;
}

/** The postmaster's pid (inside the container) when the server runs; the container must run. */
export async function postmasterPid(docker: Docker, c: Docker.Container, info: NodeInfo): Promise<number | undefined> {
  const r = await execIn(docker, c, [pgBin(info, 'pg_ctl'), '-D', dataDir, 'status']);
  if (r.code !== 0) return undefined;
  const pid = Number(/PID: (\d+)/.exec(r.stdout)?.[1]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Wait until no PostgreSQL process is left in the container (SIGKILL the stragglers of a killed postmaster). */
const NO_POSTGRES = `(${[
  'for i in $(seq 100); do pgrep -u postgres -x postgres >/dev/null || exit 0; sleep 0.1; done',
  'pkill -9 -u postgres -x postgres',
  'while pgrep -u postgres -x postgres >/dev/null; do sleep 0.05; done',
].join('\n')})`;

/** startServer's exit codes besides 0 (running: pg_ctl status on stdout). */
const NOT_STARTED = 3;
const NOT_INITIALIZED = 4;

/**
 * pg_ctl start in the running container, in one exec: a running server is left as it is; else
 * (refused with NOT_INITIALIZED when `requireInitialized` and the node is not) orphaned backends
 * of a killed server are let go, stale lock files removed, then start and wait. Resolves with the
 * postmaster's pid; rejects with the server's last log lines.
 */
export async function startServer(
  docker: Docker,
  c: Docker.Container,
  info: NodeInfo,
  timeoutSeconds: number,
  requireInitialized = false,
): Promise<number> {
  const pgCtl = `${pgBin(info, 'pg_ctl')} -D ${dataDir}`;
  const check = requireInitialized
    ? [
        `case "$(${INITIALIZED_PROBE})" in`,
        `  ${shq(NODE_CONFIG_MARKER)}*) ;;`,
        `  *) exit ${NOT_INITIALIZED} ;;`,
        'esac',
      ]
    : [];
  const script = [
    `if status=$(${pgCtl} status); then echo "$status"; exit 0; fi`,
    ...check,
    NO_POSTGRES,
    `rm -f ${dataDir}/postmaster.pid ${socketDir}/.s.PGSQL.*`,
    `out=$(${pgCtl} -l ${pgCtlLog} -w -t ${timeoutSeconds} start 2>&1) || true`,
    // A copy's first start is over: from now on its restore_command reads the archive.
    `if status=$(${pgCtl} status); then rm -f ${dataDir}/${CLONED_MARKER}; echo "$status"; exit 0; fi`,
    `tail -n 3 ${pgCtlLog} | grep -v 'redirecting log output' ||`,
    `  tail -n 3 ${dataDir}/log/postgresql.log || echo "$out"`,
    `exit ${NOT_STARTED}`,
  ].join('\n');
  const r = await execIn(docker, c, ['sh', '-c', script]);
  const pid = Number(/PID: (\d+)/.exec(r.stdout)?.[1]);
  if (r.code === 0 && Number.isInteger(pid) && pid > 0) return pid;
  if (r.code === NOT_INITIALIZED) {
    const message = `node ${info.nodeId} has no initialized data directory`;
    throw new NodeRuntimeError('NOT_INITIALIZED', message, { nodeId: info.nodeId });
  }
  const reason = r.stdout.trim().split('\n').join(' | ') || r.stderr.trim();
  throw new NodeRuntimeError('START_FAILED', `node ${info.nodeId} failed to start: ${reason}`, {
    nodeId: info.nodeId,
    port: info.port,
  });
}

/** pg_ctl stop in `mode`, waiting for the server and its processes to be gone. */
export async function stopServer(
  docker: Docker,
  c: Docker.Container,
  info: NodeInfo,
  mode: StopMode,
  timeoutSeconds: number,
): Promise<void> {
  if ((await postmasterPid(docker, c, info)) === undefined) return;
  const r = await execIn(docker, c, [
    pgBin(info, 'pg_ctl'),
    '-D',
    dataDir,
    '-m',
    mode,
    '-w',
    '-t',
    String(timeoutSeconds),
    'stop',
  ]);
  if (r.code !== 0 && (await postmasterPid(docker, c, info)) !== undefined) {
    const message = `node ${info.nodeId} did not stop: ${(r.stderr || r.stdout).trim()}`;
    throw new NodeRuntimeError('STOP_FAILED', message, { nodeId: info.nodeId });
  }
  await execOk(docker, c, ['sh', '-c', NO_POSTGRES]);
}

/** SIGKILL the postmaster (a crash) and wait until pg_ctl no longer sees it. */
export async function killServer(docker: Docker, c: Docker.Container, info: NodeInfo): Promise<void> {
  const pid = await postmasterPid(docker, c, info);
  if (pid === undefined) return;
  const script = `kill -9 ${pid}; while kill -0 ${pid} 2>/dev/null; do sleep 0.02; done`;
  await execIn(docker, c, ['sh', '-c', script], { user: 'postgres' });
}

/** pg_controldata of the data directory (untranslated keys). */
export async function controlDataIn(
  docker: Docker,
  c: Docker.Container,
  info: NodeInfo,
): Promise<Record<string, string>> {
  const r = await execIn(docker, c, [pgBin(info, 'pg_controldata'), '-D', dataDir], {
    env: { LC_ALL: 'C', LANG: 'C' },
  });
  if (r.code !== 0) {
    const message = `node ${info.nodeId} has no control file yet: ${r.stderr.trim()}`;
    throw new NodeRuntimeError('NOT_INITIALIZED', message, { nodeId: info.nodeId });
  }
  return parseControlData(r.stdout);
}

/** Ask the running server to reread its configuration and certificates. */
export async function reloadServer(docker: Docker, c: Docker.Container, info: NodeInfo): Promise<void> {
  if ((await postmasterPid(docker, c, info)) === undefined) return;
  await execIn(docker, c, [pgBin(info, 'pg_ctl'), '-D', dataDir, 'reload']);
}

/** The nodes of a cluster on this engine, with their state (and postmaster pid while running), by node id. */
export async function listNodes(
  docker: Docker,
  clusterId: string,
): Promise<Array<NodeInfo & { state: 'running' | 'stopped'; pid?: number }>> {
  const nodes = [];
  for (const entry of await containersOfCluster(docker, clusterId)) {
    const info = nodeOfLabels(entry.Labels);
    if (!info) continue;
    const pid =
      entry.State === 'running' ? await postmasterPid(docker, docker.getContainer(entry.Id), info) : undefined;
    nodes.push(
      pid === undefined ? { ...info, state: 'stopped' as const } : { ...info, state: 'running' as const, pid },
    );
  }
  return nodes.sort((a, b) => a.nodeId.localeCompare(b.nodeId));
}
