import { nodeHostName } from '@pgfleet/contracts';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { Id } from '@pgfleet/contracts';
import type { ExecResult } from '@pgfleet/postgres';
import type { NodeInfo } from '../port.js';
import type { NetworkIsolation } from './isolation.js';

/** Labels every node container carries: the driver rebuilds its view of the nodes from them alone. */
export const LABEL = {
  cluster: 'pgfleet.cluster',
  node: 'pgfleet.node',
  major: 'pgfleet.major',
  port: 'pgfleet.port',
  role: 'pgfleet.role',
} as const;

/** Where a node lives inside its container: its volume, data directory, socket directory and port. */
export const IN_CONTAINER = {
  volume: '/pgfleet',
  dataDir: '/pgfleet/data',
  socketDir: '/pgfleet/data.run',
  tlsDir: '/pgfleet/tls',
  pgCtlLog: '/pgfleet/pg_ctl.log',
  port: 5432,
} as const;

export const safeId = (id: string, field: string): string => {
  if (!Id.safeParse(id).success) throw new Error(`${field} "${id}" must be 1-64 letters, digits, "_" or "-"`);
  return id;
};

export const containerName = (clusterId: string, nodeId: string) => `pgfleet-${clusterId}-${nodeId}`;
export const volumeName = (clusterId: string, nodeId: string) => `pgfleet-${clusterId}-${nodeId}-data`;
/** The cluster's network on an engine (one per engine, whatever its bridge's name). */
export const networkName = (clusterId: string) => `pgfleet-${clusterId}`;
/**
 * A bridge interface name of its own (at most 15 characters), so two clusters never share one; with
 * `host` (a multi-host runtime's other hosts), one per host too: several hosts may share one kernel.
 */
export const bridgeName = (clusterId: string, host?: string) =>
  `pgf${createHash('sha256')
    .update(host === undefined ? clusterId : `${clusterId}\n${host}`)
    .digest('hex')
    .slice(0, 11)}`;

/**
 * The name a container is reached by on its cluster network: a node's host name (`nodeHostName`,
 * its alias and certificate name), else the container's own name.
 */
export const hostNameOf = (c: Docker.ContainerInspectInfo): string => {
  const nodeId = c.Config.Labels?.[LABEL.node];
  return nodeId ? nodeHostName(nodeId) : c.Name.replace(/^\//, '');
};

export const isStatus = (error: unknown, code: number): boolean =>
  (error as { statusCode?: number } | null)?.statusCode === code;

/** The node a container holds, from its labels; undefined for a container that is not a pgfleet node. */
export function nodeOfLabels(labels: Record<string, string> | undefined): NodeInfo | undefined {
  const clusterId = labels?.[LABEL.cluster];
  const nodeId = labels?.[LABEL.node];
  const major = Number(labels?.[LABEL.major]);
  const port = Number(labels?.[LABEL.port]);
  if (!clusterId || !nodeId || !Number.isInteger(major) || !Number.isInteger(port)) return undefined;
  return { clusterId, nodeId, major, port, dataDir: IN_CONTAINER.dataDir, socketDir: IN_CONTAINER.socketDir };
}

/** The containers of a node (`pgfleet.node` label), in any state. */
export async function containersOfNode(docker: Docker, nodeId: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${LABEL.node}=${nodeId}`] } });
}

/** The containers of a cluster's nodes (`pgfleet.cluster` label), in any state. */
export async function containersOfCluster(docker: Docker, clusterId: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({
    all: true,
    filters: { label: [`${LABEL.cluster}=${clusterId}`, `${LABEL.role}=node`] },
  });
}

/**
 * The cluster's private network, created on demand (a bridge of its own, labelled with the
 * cluster) and kept apart from the other clusters' (`isolation`): its name and subnet. A create
 * racing another one takes the network that won.
 */
export async function ensureNetwork(
  docker: Docker,
  clusterId: string,
  isolation: NetworkIsolation,
  bridge = bridgeName(clusterId),
): Promise<{ name: string; subnet: string }> {
  // Before the network is used: no container of it ever runs without its isolation.
  await isolation.add(bridge);
  const name = networkName(clusterId);
  const subnetOf = (n: Docker.NetworkInspectInfo) => {
    const subnet = n.IPAM?.Config?.[0]?.Subnet;
    if (!subnet) throw new Error(`network ${name} has no IPv4 subnet`);
    return { name, subnet };
  };
  try {
    return subnetOf(await docker.getNetwork(name).inspect());
  } catch (error) {
    if (!isStatus(error, 404)) throw error;
  }
  try {
    await docker.createNetwork({
      Name: name,
      Driver: 'bridge',
      CheckDuplicate: true,
      Labels: { [LABEL.cluster]: clusterId },
      Options: { 'com.docker.network.bridge.name': bridge },
    });
  } catch (error) {
    if (!isStatus(error, 409)) throw error;
  }
  return subnetOf(await docker.getNetwork(name).inspect());
}

/** Remove the cluster's network, and its isolation, once none of its containers remains. */
export async function removeNetworkIfUnused(
  docker: Docker,
  clusterId: string,
  isolation: NetworkIsolation,
  bridge = bridgeName(clusterId),
): Promise<void> {
  const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL.cluster}=${clusterId}`] } });
  if (left.length > 0) return;
  try {
    await docker.getNetwork(networkName(clusterId)).remove();
  } catch (error) {
    if (!isStatus(error, 404)) throw error;
  }
  await isolation.remove(bridge);
}

/** Remove the node's container (when `found`) and every volume labelled with the node. */
export async function removeNodeContainer(
  docker: Docker,
  nodeId: string,
  found: { c: Docker.Container; info: NodeInfo } | undefined,
): Promise<void> {
  const volumes = await docker.listVolumes({ filters: { label: [`${LABEL.node}=${nodeId}`] } });
  const gone = (error: unknown) => {
    if (!isStatus(error, 404)) throw error;
  };
  if (found) await found.c.remove({ force: true }).catch(gone);
  const names = new Set((volumes.Volumes ?? []).map((v) => v.Name));
  if (found) names.add(volumeName(found.info.clusterId, nodeId));
  for (const name of names) await docker.getVolume(name).remove().catch(gone);
}

/** The environment of a command run in a node's context: its major's tools first, PGDATA, its socket. */
export const nodeEnv = (major: number): Record<string, string> => ({
  PATH: `/usr/lib/postgresql/${major}/bin:/usr/local/bin:/usr/bin:/bin`,
  PGDATA: IN_CONTAINER.dataDir,
  PGHOST: IN_CONTAINER.socketDir,
  PGPORT: String(IN_CONTAINER.port),
  PGUSER: 'postgres',
  PGDATABASE: 'postgres',
});

export interface ExecOptions {
  /** Default postgres; root for the few steps that own the volume. */
  user?: string;
  env?: Record<string, string>;
  input?: string | Buffer;
  workingDir?: string;
  /** What execOk's error names as the command (default: the command's file name). */
  name?: string;
}

/**
 * Start `cmd` in a running container, attached (stdin hijacked), its stdout and stderr demultiplexed.
 * Resolves with the output and an exit code once it exited; `onStdout` receives stdout as it comes
 * (then `stdout` stays empty).
 */
export async function startExec(
  docker: Docker,
  container: Docker.Container,
  cmd: readonly string[],
  options: ExecOptions & { stdin?: NodeJS.ReadableStream; onStdout?: PassThrough } = {},
): Promise<{ result: Promise<ExecResult>; abort: () => void }> {
  const exec = await container.exec({
    Cmd: [...cmd],
    User: options.user ?? 'postgres',
    Env: Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
    WorkingDir: options.workingDir ?? '/',
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await exec.start({ hijack: true, stdin: true });
  const stdout = options.onStdout ?? new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  if (!options.onStdout) stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-16_384)));
  docker.modem.demuxStream(stream, stdout, stderr);
  if (options.stdin) options.stdin.pipe(stream);
  else stream.end(options.input ?? '');
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
  });
  const result = ended.then(async () => {
    // The session's exit code is recorded a moment after its output ends.
    for (let i = 0; ; i++) {
      const info = await exec.inspect();
      if (!info.Running && info.ExitCode !== null) return { code: info.ExitCode, stdout: out, stderr: err };
      if (i > 200) return { code: -1, stdout: out, stderr: err };
      await new Promise((r) => setTimeout(r, 25));
    }
  });
  return { result, abort: () => stream.destroy() };
}

/** Run `cmd` in a running container and wait for it: see startExec. Never throws on a non-zero exit. */
export async function execIn(
  docker: Docker,
  container: Docker.Container,
  cmd: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  return (await startExec(docker, container, cmd, options)).result;
}

/** Same, rejecting with the command's last stderr lines on a non-zero exit. */
export async function execOk(
  docker: Docker,
  container: Docker.Container,
  cmd: readonly string[],
  options: ExecOptions = {},
): Promise<string> {
  const r = await execIn(docker, container, cmd, options);
  if (r.code !== 0) {
    const lastLines = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
    const name = options.name ?? cmd[0]?.split('/').pop();
    throw new Error(`${name} failed in ${container.id.slice(0, 12)} (exit ${r.code}): ${lastLines}`);
  }
  return r.stdout;
}
