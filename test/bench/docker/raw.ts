import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { INITDB_OPTIONS, withClient } from '@pgfleet/postgres';
import type { DockerHost } from '@pgfleet/runtime';
import { waitFor } from '../../e2e/harness.js';

type Docker = DockerHost['docker'];
type Container = ReturnType<Docker['getContainer']>;

/** Every container, volume and network of the raw baseline carries it: its cleanup finds them by it. */
const RAW_LABEL = 'pgfleet-bench.raw';

/** The image's own directory for PostgreSQL (owned by postgres): the node's volume is mounted there. */
const VOLUME_AT = '/var/lib/postgresql';
const PGDATA = `${VOLUME_AT}/data`;
const PG_BIN = '/usr/lib/postgresql/15/bin';

/**
 * `sh -c` as postgres in a running container (`docker exec`), stdout and stderr demultiplexed;
 * resolves once it exited with 0, rejects with its last lines otherwise.
 */
async function exec(docker: Docker, c: Container, script: string, env: Record<string, string>): Promise<void> {
  const session = await c.exec({
    Cmd: ['sh', '-c', script],
    User: 'postgres',
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await session.start({ hijack: true, stdin: true });
  const output = new PassThrough();
  let text = '';
  output.on('data', (d: Buffer) => (text = (text + d.toString()).slice(-4096)));
  docker.modem.demuxStream(stream, output, output);
  stream.end();
  await new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
  });
  // The session's exit code is recorded a moment after its output ends.
  let info = await session.inspect();
  for (let i = 0; info.Running || info.ExitCode === null; i++) {
    if (i > 400) throw new Error(`docker exec in ${c.id.slice(0, 12)} gave no exit code: ${text}`);
    await new Promise((r) => setTimeout(r, 25));
    info = await session.inspect();
  }
  if (info.ExitCode !== 0) {
    const last = text.trim().split('\n').slice(-3).join(' | ');
    throw new Error(`docker exec in ${c.id.slice(0, 12)} failed (exit ${info.ExitCode}): ${last}`);
  }
}

/**
 * `docker run -d --name NAME -v VOLUME:/var/lib/postgresql [--network NET] IMAGE sleep infinity`: a
 * volume and a container of the node image, started; reached at its address on its network (no
 * port published, as pgfleet's nodes).
 */
async function runContainer(docker: Docker, image: string, name: string, network?: string) {
  const labels = { [RAW_LABEL]: name };
  const volume = `${name}-data`;
  await docker.createVolume({ Name: volume, Labels: labels });
  const exposed = '5432/tcp';
  const c = await docker.createContainer({
    name,
    Hostname: name,
    Image: image,
    Cmd: ['sleep', 'infinity'],
    Labels: labels,
    ExposedPorts: { [exposed]: {} },
    HostConfig: {
      Init: true,
      Binds: [`${volume}:${VOLUME_AT}`],
      ...(network ? { NetworkMode: network } : {}),
    },
  });
  await c.start();
  const networks = (await c.inspect()).NetworkSettings.Networks;
  const address = Object.values(networks)[0]?.IPAddress;
  if (!address) throw new Error(`${name} has no address on its network`);
  return { c, address };
}

/**
 * pg_ctl start of the data directory in the container, listening on all its addresses (its socket
 * in /tmp); waits until it accepts connections, or fails with the server's last log lines.
 */
const PG_START = [
  `${PG_BIN}/pg_ctl -D ${PGDATA} -l ${VOLUME_AT}/pg_ctl.log -w -o "-c listen_addresses='*' -k /tmp" start ||`,
  `{ tail -n 3 ${VOLUME_AT}/pg_ctl.log >&2; exit 1; }`,
].join(' ');

/**
 * A leader by hand: initdb with pgfleet's options and the superuser's password, TCP and replication
 * from the container's network allowed (scram), then pg_ctl start.
 */
const LEADER_SCRIPT = [
  'set -e',
  `printf '%s\\n' "$PW" > /tmp/pw`,
  `${PG_BIN}/initdb -D ${PGDATA} ${INITDB_OPTIONS.join(' ')} --pwfile=/tmp/pw >/dev/null`,
  'rm /tmp/pw',
  `printf 'host %s all samenet scram-sha-256\\n' all replication >> ${PGDATA}/pg_hba.conf`,
  PG_START,
].join('\n');

/** A follower by hand: pg_basebackup -R of the leader at `leader` (WAL streamed, its own slot), then pg_ctl start. */
const followerScript = (leader: string, slot: string) =>
  [
    'set -e',
    `PGPASSWORD="$PW" ${PG_BIN}/pg_basebackup -h ${leader} -U postgres -D ${PGDATA}` +
      ` -R -X stream -C -S ${slot} --checkpoint=fast`,
    PG_START,
  ].join('\n');

/**
 * The raw baseline on the same engine and image as the docker runtime: what a person would do by
 * hand with `docker run` and `docker exec`. One node: a container, initdb and pg_ctl start in it,
 * until `SELECT 1` answers at its address on its network. More: a network of their own, the leader
 * so, then the followers in their own containers by `pg_basebackup -R` from its address and pg_ctl start,
 * one after the other, until the leader's pg_stat_replication shows both streaming. Resolves with
 * the wall time; everything it made is removed after (not timed).
 */
export async function rawDockerCluster(docker: Docker, image: string, name: string, nodes: number): Promise<number> {
  const password = randomBytes(12).toString('hex');
  const network = nodes > 1 ? name : undefined;
  const started = performance.now();
  try {
    if (network) await docker.createNetwork({ Name: network, Driver: 'bridge', Labels: { [RAW_LABEL]: name } });
    const leaderName = `${name}-0`;
    const { c, address } = await runContainer(docker, image, leaderName, network);
    const leader = { host: address, port: 5432, password };
    await exec(docker, c, LEADER_SCRIPT, { PW: password });
    await waitFor(`SELECT 1 on ${leaderName}`, () =>
      withClient(leader, (q) => q.query('SELECT 1')).then(
        () => true,
        () => undefined,
      ),
    );
    // The leader's address on the network (`docker inspect`): the engine's DNS did not always know
    // a container started a moment before under load.
    for (let i = 1; i < nodes; i++) {
      const follower = await runContainer(docker, image, `${name}-${i}`, network);
      await exec(docker, follower.c, followerScript(address, `follower${i}`), { PW: password });
    }
    if (nodes > 1) {
      const streaming = "SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'";
      await waitFor(`${nodes - 1} followers streaming from ${leaderName}`, async () => {
        const { rows } = await withClient(leader, (q) => q.query<{ n: number }>(streaming));
        return rows[0]?.n === nodes - 1 || undefined;
      });
    }
    return performance.now() - started;
  } finally {
    await removeRaw(docker, name);
  }
}

/** Remove the raw baseline's containers, volumes and networks (those of `name`, or all of them). */
export async function removeRaw(docker: Docker, name?: string): Promise<void> {
  const filters = { label: [name ? `${RAW_LABEL}=${name}` : RAW_LABEL] };
  for (const c of await docker.listContainers({ all: true, filters }))
    await docker.getContainer(c.Id).remove({ force: true });
  for (const v of (await docker.listVolumes({ filters })).Volumes ?? []) await docker.getVolume(v.Name).remove();
  for (const n of await docker.listNetworks({ filters })) await docker.getNetwork(n.Id).remove();
}
