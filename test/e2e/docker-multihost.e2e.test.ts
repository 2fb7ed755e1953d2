import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { runtimeNodeId } from '@pgfleet/contracts';
import { rmSync } from 'node:fs';
import { ownedTempDir } from '@pgfleet/postgres';
import {
  createNodeRuntime,
  dockerHosts,
  ensureNodeImageStore,
  startPodmanService,
  type PodmanService,
} from '@pgfleet/runtime';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { psql, startPlatform, waitFor, type TestPlatform } from './harness.js';

/**
 * The docker runtime on two Docker hosts: two Podman API services of this test's own (separate
 * storage, networks from distinct subnet pools) stand in for two machines.
 */
interface Shown {
  clusterId: string;
  nodes: { nodeId: string; role: string; state: string; host?: string; container?: string }[];
}

let t: TestPlatform | undefined;
const services: PodmanService[] = [];
/** The services' temporary directories (each service's own purge leaves the one above its storage). */
const dirs: string[] = [];
const json = async <T>(...args: string[]): Promise<T> => {
  const r = await t!.cli(...args, '--json');
  if (r.code !== 0) throw new Error(`pgfleet ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
};
/** What each host holds of a cluster: containers, volumes and networks. */
async function leftOn(clusterId: string): Promise<number[]> {
  const filters = { label: [`pgfleet.cluster=${clusterId}`] };
  return Promise.all(
    dockerHosts(t!.home, t!.env).map(async ({ docker }) => {
      const volumes = (await docker.listVolumes({ filters })).Volumes ?? [];
      return (
        (await docker.listContainers({ all: true, filters })).length +
        volumes.length +
        (await docker.listNetworks({ filters })).length
      );
    }),
  );
}

beforeAll(async () => {
  const { store } = await ensureNodeImageStore();
  const first = randomInt(128, 248);
  for (const pool of [first, 128 + ((first - 128 + randomInt(1, 120)) % 120)]) {
    const dir = await ownedTempDir('pgfleet-mhe-');
    dirs.push(dir);
    services.push(
      await startPodmanService(join(dir, 'podman'), { imageStore: store, subnetPool: `10.${pool}.0.0/16` }),
    );
  }
  const hosts = services.map((s) => `unix://${s.socketPath}`).join(',');
  t = await startPlatform({ PGFLEET_RUNTIME: 'docker', PGFLEET_DOCKER_HOSTS: hosts });
}, 20 * 60_000);

afterAll(async () => {
  await t?.platform.stop().catch(() => undefined);
  if (t) {
    // Nodes a failed test left go through the driver (container, volume, network, isolation rules).
    const runtime = createNodeRuntime({ home: t.home, env: t.env });
    for (const { docker } of dockerHosts(t.home, t.env)) {
      // Gateways first (they live in their gateway-net container's namespace), so the last node's
      // removal takes the network and its isolation rule too.
      for (const role of ['gateway', 'gateway-net']) {
        for (const c of await docker.listContainers({ all: true, filters: { label: [`pgfleet.role=${role}`] } })) {
          await docker.getContainer(c.Id).remove({ force: true });
        }
      }
      for (const c of await docker.listContainers({ all: true, filters: { label: ['pgfleet.role=node'] } })) {
        await runtime.remove(c.Labels['pgfleet.node']!).catch(() => undefined);
      }
      for (const c of await docker.listContainers({ all: true })) {
        await docker.getContainer(c.Id).remove({ force: true, v: true });
      }
    }
  }
  for (const s of services) await s.purge();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await t?.cleanup();
}, 180_000);

describe('PGFLEET_DOCKER_HOSTS with two hosts', () => {
  it('a business cluster is spread over both, NodePlaced saying where, its gateways on distinct hosts ' +
    '(GatewayPlaced), both in its URL; its followers replicate across hosts; delete clears both', async () => {
    const created = await t!.cli('cluster', 'create', 'mhe', '--plan', 'business-1024');
    expect(created.code, created.stderr + created.stdout).toBe(0);
    const urlOut = await t!.cli('cluster', 'url', 'mhe');
    const gatewayLog = () => t!.logs.filter((l) => l.startsWith('[networking]')).join('');
    expect(urlOut.code, `${urlOut.stderr}${gatewayLog()}`).toBe(0);
    const url = urlOut.stdout.trim();
    psql(url, 'CREATE TABLE t(id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)');

    const shown = await json<Shown>('cluster', 'show', 'mhe');
    const hosts = services.map((s) => `unix://${s.socketPath}`);
    expect(new Set(shown.nodes.map((n) => n.host))).toEqual(new Set(hosts));
    expect((await t!.cli('cluster', 'show', 'mhe')).stdout).toContain('closest spread: 3 nodes on 2 hosts');
    const client = new pg.Client({ connectionString: t!.platform.eventstoreUrl });
    await client.connect();
    const sql = `SELECT data FROM pgfleet_eventstore.events WHERE stream_id = $1 AND type = 'NodePlaced'`;
    const placed = (await client.query(sql, [`cluster-${shown.clusterId}`])).rows.map((r) => r.data);
    const gatewaysSql = `SELECT data FROM pgfleet_eventstore.events WHERE stream_id = $1 AND type = 'GatewayPlaced'`;
    const gatewaysPlaced: { gatewayId: string; host: string }[] = (
      await client.query(gatewaysSql, [`gateway-${shown.clusterId}`])
    ).rows.map((r) => r.data);
    await client.end();
    // The gateways on distinct hosts, each one's container on the host recorded; the URL names both.
    expect(new Set(gatewaysPlaced.map((g) => g.host))).toEqual(new Set(hosts));
    expect(gatewaysPlaced.map((g) => g.gatewayId).sort()).toEqual(['gw1', 'gw2']);
    const gatewayOn = (host: string) => dockerHosts(t!.home, t!.env)[hosts.indexOf(host)]!.docker;
    for (const g of gatewaysPlaced) {
      const name = `pgfleet-${shown.clusterId}-gw-${g.gatewayId}`;
      expect((await gatewayOn(g.host).getContainer(name).inspect()).State.Running).toBe(true);
    }
    expect(url).toMatch(/@127\.0\.0\.1:\d+,127\.0\.0\.1:\d+\/app\?target_session_attrs=read-write$/);
    expect(placed.sort((a, b) => a.nodeId.localeCompare(b.nodeId))).toEqual(
      shown.nodes.map((n) => ({ nodeId: n.nodeId, host: n.host })).sort((a, b) => a.nodeId.localeCompare(b.nodeId)),
    );

    // Every follower, on either host, has the rows (verify-full TLS replication across hosts).
    const runtime = createNodeRuntime({ home: t!.home, env: t!.env });
    for (const f of shown.nodes.filter((n) => n.role === 'follower')) {
      await waitFor(`the rows on ${f.nodeId} (${f.host})`, async () => {
        const r = await runtime.exec(runtimeNodeId(shown.clusterId, f.nodeId), 'psql', [
          '-d',
          'app',
          '-tAc',
          'SELECT count(*) FROM t',
        ]);
        return r.stdout.trim() === '100' || undefined;
      });
    }

    // The read-only URL serves both followers, round robin, whichever host holds them: with the writes
    // above, the gateway the URL names first reached nodes of both hosts.
    const readOnly = await t!.cli('cluster', 'url', 'mhe', '--readonly');
    expect(readOnly.code, readOnly.stderr).toBe(0);
    const served = new Set<string>();
    await waitFor('both followers through the read-only URL', () => {
      try {
        served.add(psql(readOnly.stdout.trim(), "SELECT host(inet_server_addr()) || ' ' || pg_is_in_recovery()"));
      } catch {
        // a follower not yet marked up by the gateway's health check
      }
      return served.size === 2 || undefined;
    });
    expect([...served].every((s) => s.endsWith(' true'))).toBe(true);

    // A gateway's host lost (its container killed): the URL's other address serves the writes.
    const first = gatewaysPlaced.find((g) => g.gatewayId === 'gw1')!;
    await gatewayOn(first.host).getContainer(`pgfleet-${shown.clusterId}-gw-gw1`).kill();
    expect(psql(url, 'INSERT INTO t VALUES (101) RETURNING id')).toBe('101');

    const deleted = await t!.cli('cluster', 'delete', 'mhe');
    expect(deleted.code, deleted.stderr).toBe(0);
    await waitFor('nothing of the cluster on either host', async () => {
      const left = await leftOn(shown.clusterId);
      return left.every((n) => n === 0) || undefined;
    });
  }, 600_000);
});
