import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runtimeNodeId } from '@pgfleet/contracts';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createNodeRuntime,
  dockerHosts,
  ensureNodeImageStore,
  localPodmanDir,
  startPodmanService,
} from '@pgfleet/runtime';
import { up } from '@pgfleet/api';
import { platformEnv, psql, startPlatform, waitFor, type TestPlatform } from './harness.js';

interface Shown {
  clusterId: string;
  status: string;
  nodes: {
    nodeId: string;
    role: string;
    state: string;
    host?: string;
    container?: string;
    lsn?: string;
    lagBytes?: number;
  }[];
}

let t: TestPlatform;
const json = async <T>(...args: string[]): Promise<T> => {
  const r = await t.cli(...args, '--json');
  if (r.code !== 0) throw new Error(`pgfleet ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
};
/** The platform's Podman service, as the platform's own driver reaches it. */
const engine = () => dockerHosts(t.home, t.env)[0]!.docker;
/**
 * What the engine holds of a cluster: its containers (name, state, role label, and the host ports it
 * publishes), volumes and networks.
 */
async function onEngine(clusterId: string) {
  const filters = { label: [`pgfleet.cluster=${clusterId}`] };
  const containers = await engine().listContainers({ all: true, filters });
  const volumes = (await engine().listVolumes({ filters })).Volumes ?? [];
  const networks = await engine().listNetworks({ filters });
  const published = async (id: string) => {
    // A container removed meanwhile (a delete going on) publishes nothing.
    const found = await engine()
      .getContainer(id)
      .inspect()
      .catch(() => undefined);
    const bindings = found?.HostConfig.PortBindings ?? {};
    return (Object.values(bindings) as ({ HostIp: string; HostPort: string }[] | null)[])
      .flatMap((b) => b ?? [])
      .map((b) => `${b.HostIp}:${b.HostPort}`)
      .sort();
  };
  const all = await Promise.all(
    containers.map(async (c) => ({
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      state: c.State,
      role: c.Labels['pgfleet.role'],
      published: await published(c.Id),
    })),
  );
  return {
    containers: all.sort((a, b) => a.name.localeCompare(b.name)),
    volumes: volumes.length,
    networks: networks.length,
  };
}

/**
 * A cluster's containers as the docker runtime makes them: its nodes' (no port published), its
 * gateways' (one per gateway, none published) and the gateways' network namespace, the only one to
 * publish a port on the host: the URL's and the read-only one's, on 127.0.0.1.
 */
async function expectContainers(clusterId: string, url: string, nodes: readonly string[], gateways: number) {
  const { containers } = await onEngine(clusterId);
  const port = new URL(url).port;
  const ofRole = (role: string) => containers.filter((c) => c.role === role);
  expect(ofRole('node').map((c) => c.name)).toEqual([...nodes].sort());
  expect(ofRole('gateway')).toHaveLength(gateways);
  const [net] = ofRole('gateway-net');
  expect(net?.published).toContain(`127.0.0.1:${port}`);
  expect(net?.published).toHaveLength(2);
  expect(containers.filter((c) => c !== net && c.published.length > 0)).toEqual([]);
  expect(containers.every((c) => c.state === 'running')).toBe(true);
  expect(containers).toHaveLength(nodes.length + gateways + 1);
}

type Recorded = { type: string; data: { nodeId: string; host?: string; leader?: string; method?: string } };
/** The cluster's events of these types, in stream order. */
async function eventsOf(clusterId: string, types: readonly string[]): Promise<Recorded[]> {
  const client = new pg.Client({ connectionString: t.platform.eventstoreUrl });
  await client.connect();
  try {
    const sql = `SELECT type, data FROM pgfleet_eventstore.events WHERE stream_id = $1
                  AND type = ANY($2) ORDER BY stream_version`;
    return (await client.query(sql, [`cluster-${clusterId}`, types])).rows;
  } finally {
    await client.end();
  }
}
/** What `cluster show --json` says that a restart of the control plane must not change (WAL positions move on). */
const stable = (shown: Shown) => ({
  ...shown,
  disk: undefined,
  nodes: shown.nodes.map(({ lsn: _lsn, lagBytes: _lag, ...node }) => node),
});
/** The cluster's NodePlaced and NodeProvisioned events, in stream order. */
const placements = (clusterId: string) => eventsOf(clusterId, ['NodePlaced', 'NodeProvisioned']);

beforeAll(async () => {
  t = await startPlatform({ PGFLEET_RUNTIME: 'docker' });
}, 20 * 60_000);

afterAll(async () => {
  if (!t) return;
  await t.platform.stop().catch(() => undefined);
  // Whatever a failed test left on the platform's Podman service goes with the service's storage.
  const { store } = await ensureNodeImageStore();
  const podman = await startPodmanService(localPodmanDir(t.home), { imageStore: store });
  // Nodes a failed test left go through the driver (container, volume, network and its isolation
  // rule); then every other container of this test's own service (the archive's).
  const runtime = createNodeRuntime({ home: t.home, env: t.env });
  // Gateways first (they live in their gateway-net container's namespace), so the last node's
  // removal takes the network and its isolation rule too.
  for (const role of ['gateway', 'gateway-net']) {
    for (const c of await engine().listContainers({ all: true, filters: { label: [`pgfleet.role=${role}`] } })) {
      await engine().getContainer(c.Id).remove({ force: true });
    }
  }
  for (const c of await engine().listContainers({ all: true, filters: { label: ['pgfleet.role=node'] } })) {
    await runtime.remove(c.Labels['pgfleet.node']!);
  }
  for (const c of await engine().listContainers({ all: true })) {
    await engine().getContainer(c.Id).remove({ force: true, v: true });
  }
  await podman.purge();
  await t.cleanup();
}, 120_000);

describe('PGFLEET_RUNTIME', () => {
  it('an unknown value stops pgfleet up at once with one sentence, before anything is started', async () => {
    const { home, env } = await platformEnv({ PGFLEET_RUNTIME: 'dockr' });
    try {
      await expect(up(env, () => undefined)).rejects.toThrow(
        'PGFLEET_RUNTIME must be "process" or "docker", not "dockr"',
      );
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('PGFLEET_RUNTIME=docker: clusters as containers on a Podman API service that pgfleet up runs', () => {
  it(
    'a sandbox cluster runs in a container that psql reaches through the printed URL; it outlives a ' +
      'restart of the platform, which finds it again; delete leaves no container, volume or network',
    async () => {
      expect(t.logs.join('\n')).toMatch(/runtime {4}docker on unix:\/\/.*podman\.sock/);
      const built = await json<{ image: string; store: string }>('images', 'build');
      expect(built.image).toMatch(/^pgfleet-node:[0-9a-f]{12}$/);
      const created = await t.cli('cluster', 'create', 'sbx', '--plan', 'sandbox');
      expect(created.code, created.stderr).toBe(0);
      const url = (await t.cli('cluster', 'url', 'sbx')).stdout.trim();
      expect(url).toMatch(/^postgresql:\/\/app:[^@]+@127\.0\.0\.1:\d+\/app$/);
      psql(
        url,
        'CREATE TABLE notes(id int PRIMARY KEY, v text); ' +
          'INSERT INTO notes SELECT g, g::text FROM generate_series(1, 50) g',
      );
      expect(psql(url, 'SELECT count(*) FROM notes')).toBe('50');

      const shown = await json<Shown>('cluster', 'show', 'sbx');
      expect(shown.nodes).toHaveLength(1);
      const node = shown.nodes[0]!;
      expect(node).toMatchObject({ role: 'leader', state: 'running' });
      expect(node.host).toMatch(/^unix:\/\/.*podman\.sock$/);
      expect(node.container).toMatch(/^pgfleet-/);
      await expectContainers(shown.clusterId, url, [node.container!], 1);
      // Placed (on the platform's one Docker host) before its storage was made.
      expect(await placements(shown.clusterId)).toEqual([
        { type: 'NodePlaced', data: { nodeId: node.nodeId, host: node.host } },
        { type: 'NodeProvisioned', data: expect.objectContaining({ nodeId: node.nodeId }) },
      ]);
      const text = (await t.cli('cluster', 'show', 'sbx')).stdout;
      expect(text).toContain(node.container);

      // The platform stops (its Podman service last): the container keeps running; a new platform finds it.
      await t.restart();
      await expectContainers(shown.clusterId, url, [node.container!], 1);
      const again = await waitFor('the node seen running after the restart', async () => {
        const s = await json<Shown>('cluster', 'show', 'sbx');
        return s.nodes[0]?.state === 'running' && s.nodes[0].role === 'leader' ? s : undefined;
      });
      expect(again.nodes[0]!.container).toBe(node.container);
      expect(psql(url, "INSERT INTO notes VALUES (51, 'after restart') RETURNING id")).toBe('51');
      expect(psql(url, 'SELECT count(*) FROM notes')).toBe('51');

      const deleted = await t.cli('cluster', 'delete', 'sbx');
      expect(deleted.code, deleted.stderr).toBe(0);
      await waitFor('the cluster gone from the engine', async () => {
        const left = await onEngine(shown.clusterId);
        return left.containers.length + left.volumes + left.networks === 0 || undefined;
      });
    },
    10 * 60_000,
  );

  it(
    'a starter cluster on PostgreSQL 13 in a container archives its WAL; pg_dump backups download and list; a ' +
      'point-in-time restore forks it; it is upgraded to 15; delete leaves nothing',
    async () => {
      const created = await t.cli('cluster', 'create', 'stx', '--plan', 'starter-512', '--version', '13');
      expect(created.code, created.stderr).toBe(0);
      const url = (await t.cli('cluster', 'url', 'stx')).stdout.trim();
      psql(url, 'CREATE TABLE t(id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)');
      expect(psql(url, 'SHOW archive_mode')).toBe('on');
      type Pitr = { archiving: { enabled: boolean; health: string }; window: { latest: string } | null };
      const pitr = await waitFor(
        'WAL archiving and a first full backup',
        async () => {
          const p = await json<Pitr>('pitr', 'status', 'stx');
          return p.archiving.enabled && p.archiving.health === 'ok' && p.window !== null ? p : undefined;
        },
        180_000,
      );
      expect(pitr.archiving).toMatchObject({ enabled: true, health: 'ok' });
      const shown = await json<Shown>('cluster', 'show', 'stx');
      const node = shown.nodes[0]!;
      await expectContainers(shown.clusterId, url, [node.container!], 1);

      // A pg_dump backup runs in the node's container and lands in the platform's store.
      const backup = await t.cli('backup', 'create', 'stx');
      expect(backup.code, backup.stderr).toBe(0);
      const [b] = await json<{ id: string; status: string }[]>('backup', 'list', 'stx');
      expect(b).toMatchObject({ status: 'completed' });
      const file = join(t.home, 'stx.dump');
      const downloaded = await t.cli('backup', 'download', 'stx', b!.id, '-o', file);
      expect(downloaded.code, downloaded.stderr).toBe(0);
      const listed = spawnSync('/usr/lib/postgresql/15/bin/pg_restore', ['--list', file], { encoding: 'utf8' });
      expect(listed.stdout).toMatch(/TABLE DATA public t /);

      // A restore to a time between two batches, into a new cluster of containers of its own.
      await sleep(1100);
      const between = psql(url, 'SELECT clock_timestamp()');
      await sleep(1100);
      psql(url, 'INSERT INTO t SELECT generate_series(11, 20)');
      // The segment holding batch 2 is closed (as superuser, in the container) so it is archived at once.
      const runtime = createNodeRuntime({ home: t.home, env: t.env });
      const rid = runtimeNodeId(shown.clusterId, node.nodeId);
      const segment = (await runtime.exec(rid, 'psql', ['-tAc', 'SELECT pg_walfile_name(pg_switch_wal())'])).stdout;
      await waitFor(
        `WAL ${segment} archived`,
        async () => {
          const p = await json<Pitr>('pitr', 'status', 'stx');
          return (p.window && Date.parse(p.window.latest) > Date.parse(between)) || undefined;
        },
        120_000,
      );
      const fork = await t.cli('pitr', 'restore', 'stx', '--to', new Date(between).toISOString(), '--into', 'stx-fork');
      expect(fork.code, `${fork.stderr}${fork.stdout}`).toBe(0);
      const forkUrl = (await t.cli('cluster', 'url', 'stx-fork')).stdout.trim();
      expect(psql(forkUrl, 'SELECT count(*) FROM t')).toBe('10');
      const forked = await json<Shown>('cluster', 'show', 'stx-fork');
      await expectContainers(forked.clusterId, forkUrl, [forked.nodes[0]!.container!], 1);
      expect((await t.cli('cluster', 'delete', 'stx-fork')).code).toBe(0);

      // pg_upgrade --link in the container, on the node's volume: 15 behind the same URL, every row.
      const upgraded = await t.cli('upgrade', 'stx', '--to', '15');
      expect(upgraded.code, `${upgraded.stderr}${upgraded.stdout}`).toBe(0);
      // The gateway's health check takes the restarted leader back within a second (as on the process runtime).
      const version = await waitFor('the URL to answer after the upgrade', async () => {
        try {
          return psql(url, 'SHOW server_version_num');
        } catch {
          return undefined;
        }
      });
      expect(version).toMatch(/^15/);
      expect(psql(url, 'SELECT count(*) FROM t')).toBe('20');

      const deleted = await t.cli('cluster', 'delete', 'stx');
      expect(deleted.code, deleted.stderr).toBe(0);
      for (const clusterId of [shown.clusterId, forked.clusterId]) {
        await waitFor('the clusters gone from the engine', async () => {
          const left = await onEngine(clusterId);
          return left.containers.length + left.volumes + left.networks === 0 || undefined;
        });
      }
    },
    10 * 60_000,
  );

  it(
    'a business cluster: three containers, rows on both followers over TLS; kill of the leader container ' +
      'fails over and the old leader rejoins; a restart of the control plane leaves the containers running ' +
      'and the state identical; delete leaves nothing',
    async () => {
      // The longest name (40): a container name of 100 characters, longer than a host name may be.
      const biz = 'orders-of-the-european-warehouses-eu-one';
      const created = await t.cli('cluster', 'create', biz, '--plan', 'business-1024');
      expect(created.code, created.stderr).toBe(0);
      const urlOut = await t.cli('cluster', 'url', biz);
      expect(urlOut.code, `${created.stdout}${urlOut.stderr}`).toBe(0);
      const url = urlOut.stdout.trim();
      psql(url, 'CREATE TABLE t(id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)');
      const shown = await json<Shown & { leader?: string }>('cluster', 'show', biz);
      const { clusterId } = shown;
      expect(shown.nodes).toHaveLength(3);
      for (const n of shown.nodes) {
        expect(n.host).toMatch(/^unix:\/\/.*podman\.sock$/);
        expect(n.container).toMatch(/^pgfleet-/);
      }
      const leader = shown.nodes.find((n) => n.role === 'leader')!;
      const followers = shown.nodes.filter((n) => n.role === 'follower');
      expect(followers).toHaveLength(2);
      const runtime = createNodeRuntime({ home: t.home, env: t.env });
      const sql = async (nodeId: string, query: string) => {
        const r = await runtime.exec(runtimeNodeId(clusterId, nodeId), 'psql', ['-d', 'app', '-tAc', query]);
        if (r.code !== 0) throw new Error(`psql on ${nodeId}: ${r.stderr}`);
        return r.stdout.trim();
      };
      // Both followers stream from the leader over TLS (verify-full against the node's certificate).
      const streamingTls =
        'SELECT count(*) FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) ' +
        "WHERE r.state = 'streaming' AND s.ssl";
      expect(await sql(leader.nodeId, streamingTls)).toBe('2');
      for (const f of followers) {
        await waitFor(
          `the rows on ${f.nodeId}`,
          async () => (await sql(f.nodeId, 'SELECT count(*) FROM t')) === '100' || undefined,
        );
      }

      // The leader's container is killed: a follower is promoted and the URL takes writes again.
      await engine().getContainer(leader.container!).kill();
      const failedOver = await waitFor(
        'a new leader',
        async () => {
          const s = await json<Shown>('cluster', 'show', biz);
          const l = s.nodes.find((n) => n.role === 'leader');
          return l && l.nodeId !== leader.nodeId ? l : undefined;
        },
        120_000,
      );
      await waitFor(
        'a write through the URL',
        async () => {
          try {
            return (
              psql(url, 'INSERT INTO t VALUES (101) ON CONFLICT DO NOTHING RETURNING 1') !== undefined || undefined
            );
          } catch {
            return undefined;
          }
        },
        60_000,
      );
      expect(psql(url, 'SELECT count(*) FROM t')).toBe('101');
      // The old leader comes back by itself, a follower of the new one.
      const rejoined = await waitFor(
        'the old leader to rejoin',
        async () => (await eventsOf(clusterId, ['NodeRejoined'])).find((e) => e.data.nodeId === leader.nodeId),
        180_000,
      );
      expect(rejoined.data).toMatchObject({ leader: failedOver.nodeId });
      expect(await sql(leader.nodeId, 'SELECT pg_is_in_recovery()')).toBe('t');
      await waitFor(
        `the rows on ${leader.nodeId}`,
        async () => (await sql(leader.nodeId, 'SELECT count(*) FROM t')) === '101' || undefined,
      );

      // A restart of the whole control plane: the containers keep running, the state is the same.
      const settled = await waitFor(
        'three running nodes',
        async () => {
          const s = await json<Shown>('cluster', 'show', biz);
          return s.status === 'ready' && s.nodes.every((n) => n.state === 'running') ? s : undefined;
        },
        120_000,
      );
      const before = await onEngine(clusterId);
      await t.restart();
      expect(await onEngine(clusterId)).toEqual(before);
      await expectContainers(
        clusterId,
        url,
        settled.nodes.map((n) => n.container!),
        2,
      );
      const after = await waitFor(
        'the same state after the restart',
        async () => {
          const s = await json<Shown>('cluster', 'show', biz);
          return s.nodes.every((n) => n.state === 'running') ? s : undefined;
        },
        120_000,
      );
      // The same nodes, roles, hosts, containers, ports and postmasters; only WAL positions move on.
      expect(stable(after)).toEqual(stable(settled));
      expect(psql(url, 'INSERT INTO t VALUES (102) RETURNING id')).toBe('102');

      const deleted = await t.cli('cluster', 'delete', biz);
      expect(deleted.code, deleted.stderr).toBe(0);
      await waitFor('the cluster gone from the engine', async () => {
        const left = await onEngine(clusterId);
        return left.containers.length + left.volumes + left.networks === 0 || undefined;
      });
    },
    20 * 60_000,
  );
});
