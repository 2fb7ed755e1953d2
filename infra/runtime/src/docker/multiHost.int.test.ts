import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPlan, runtimeNodeId, slotName, type Plan } from '@pgfleet/contracts';
import {
  createReplicationRole,
  ensureClusterTls,
  freePort,
  generatePassword,
  nodeTlsFiles,
  withClient,
} from '@pgfleet/postgres';
import type { NodeRuntime, NodeSetup } from '../port.js';
import { bridgeName, LABEL } from './containers.js';
import { isolatedBridges, networkIsolation } from './isolation.js';
import { createMultiHostRuntime, primaryAddress } from './multiHost.js';
import { eventually, startTestHost, type TestHost } from './testing/podmanHost.js';

const business: Plan = findPlan('business-1024')!;
const sandbox: Plan = findPlan('sandbox')!;
const cluster = 'mhb';
const other = 'mhx';
const [n1, n2, n3] = ['node1', 'node2', 'node3'];
const rid = (nodeId: string) => runtimeNodeId(cluster, nodeId);
const outsider = runtimeNodeId(other, 'node1');
const outsiderCopy = runtimeNodeId(other, 'node2');
const replicatorPassword = generatePassword();
const hosts: TestHost[] = [];
const names: string[] = [];
let home: string;
let runtime: NodeRuntime;
const ports: Record<string, number> = {};
/** A free port for the node, taken just before its container binds it. */
const portOf = async (nodeId: string) => {
  ports[nodeId] = await freePort();
  return ports[nodeId]!;
};

const sql = async <T extends Record<string, unknown>>(nodeId: string, text: string): Promise<T[]> =>
  withClient(await runtime.endpoint(nodeId), async (q) => (await q.query<T>(text)).rows);
/** The setup provisioning gives a Business node: the plan and its TLS files (nodeSetupOf's). */
const setupOf = (nodeId: string): NodeSetup => ({
  plan: business,
  tls: nodeTlsFiles(home, cluster, nodeId),
  clusterName: slotName(nodeId),
});

/** Containers, volumes and networks of a cluster on one host. */
async function leftovers(host: TestHost, clusterId: string) {
  const label = { label: [`${LABEL.cluster}=${clusterId}`] };
  const containers = await host.docker.listContainers({ all: true, filters: label });
  const volumes = (await host.docker.listVolumes({ filters: label })).Volumes ?? [];
  const networks = await host.docker.listNetworks({ filters: label });
  return { containers: containers.length, volumes: volumes.length, networks: networks.length };
}

beforeAll(async () => {
  // Two Podman services, each with its own storage, networks and subnets: two Docker hosts.
  const first = randomInt(128, 248);
  const second = 128 + ((first - 128 + randomInt(1, 120)) % 120);
  hosts.push(await startTestHost('pgfleet-mh1-', { subnetPool: `10.${first}.0.0/16` }));
  hosts.push(await startTestHost('pgfleet-mh2-', { subnetPool: `10.${second}.0.0/16` }));
  names.push(...hosts.map((h) => `unix://${h.service.socketPath}`));
  home = join(hosts[0]!.tmp, 'home');
  await ensureClusterTls(home, cluster, [n1, n2, n3]);
  runtime = createMultiHostRuntime({
    home,
    image: hosts[0]!.image,
    hosts: hosts.map((h, i) => ({ name: names[i]!, docker: h.docker })),
  });
}, 20 * 60_000);

afterAll(async () => {
  for (const [i, host] of hosts.entries()) {
    await host.cleanup([cluster, other]);
    // The second host's bridges are named after the host too.
    for (const c of [cluster, other]) await networkIsolation(host.docker, console.warn).remove(bridgeName(c, names[i]));
  }
}, 120_000);

describe('the docker runtime over two Docker hosts', () => {
  it('puts each node on its placed host; the cluster streams across hosts with verify-full TLS', async () => {
    await runtime.create({
      clusterId: cluster,
      nodeId: rid(n1),
      major: 15,
      port: await portOf(rid(n1)),
      host: names[0],
    });
    await runtime.initialize(rid(n1), setupOf(n1));
    await runtime.start(rid(n1));
    await createReplicationRole(await runtime.endpoint(rid(n1)), { role: 'replicator', password: replicatorPassword });
    await sql(rid(n1), 'CREATE TABLE t (v text)');
    await sql(rid(n1), "INSERT INTO t VALUES ('one')");

    const leader = { ...(await runtime.peerAddress(rid(n1))), user: 'replicator', password: replicatorPassword };
    expect(leader).toMatchObject({ host: rid(n1), port: ports[rid(n1)] });
    for (const n of [n2, n3]) {
      await runtime.create({
        clusterId: cluster,
        nodeId: rid(n),
        major: 15,
        port: await portOf(rid(n)),
        host: names[1],
      });
      const upstream = { ...leader, sslmode: 'verify-full' };
      await runtime.cloneFrom(rid(n), { ...setupOf(n), leader: upstream, slotName: slotName(n) });
      await runtime.start(rid(n));
    }
    await sql(rid(n1), "INSERT INTO t VALUES ('two')");
    for (const n of [n2, n3]) {
      const rows = await eventually(
        () => sql<{ v: string }>(rid(n), 'SELECT v FROM t ORDER BY v'),
        (r) => r.length === 2,
      );
      expect(rows).toEqual([{ v: 'one' }, { v: 'two' }]);
    }
    const streams = await sql(
      rid(n1),
      'SELECT application_name, state, ssl FROM pg_stat_replication JOIN pg_stat_ssl USING (pid) ORDER BY 1',
    );
    expect(streams).toEqual([
      { application_name: slotName(n2), state: 'streaming', ssl: true },
      { application_name: slotName(n3), state: 'streaming', ssl: true },
    ]);
    const conninfo = await sql<{ s: string }>(
      rid(n2),
      'SELECT setting AS s FROM pg_settings WHERE name = $$primary_conninfo$$',
    );
    expect(conninfo[0]!.s).toContain('sslmode=verify-full');
    expect(conninfo[0]!.s).toContain(`host=${rid(n1)}`);
  });

  it('reports every host with its load, locates a node on its host, lists the cluster over both', async () => {
    expect(await runtime.hosts!.loads()).toEqual([
      { host: names[0], nodes: 1 },
      { host: names[1], nodes: 2 },
    ]);
    expect(await runtime.hosts!.locate(rid(n2))).toEqual({
      host: names[1],
      container: `pgfleet-${cluster}-${rid(n2)}`,
    });
    expect(await runtime.hosts!.locate(rid(n1))).toEqual({
      host: names[0],
      container: `pgfleet-${cluster}-${rid(n1)}`,
    });
    expect(await runtime.hosts!.locate('nowhere')).toBeUndefined();
    const listed = await runtime.list(cluster);
    expect(listed.map((n) => [n.nodeId, n.state])).toEqual([
      [rid(n1), 'running'],
      [rid(n2), 'running'],
      [rid(n3), 'running'],
    ]);
    // A tool runs in the node's container on its host.
    const dump = runtime.runTool(rid(n3), 'pg_dump', ['--table=t', '--data-only'], { database: 'postgres' });
    let text = '';
    for await (const chunk of dump.stdout) text += chunk.toString();
    await dump.done;
    expect(text).toMatch(/COPY public\.t \(v\) FROM stdin;\none\ntwo\n/);
    // The port of every node is published on the machine's address only, where other hosts reach
    // it; the control plane reaches a local host's node at its container's address.
    const c = await hosts[1]!.docker.getContainer(`pgfleet-${cluster}-${rid(n3)}`).inspect();
    expect(c.NetworkSettings.Ports['5432/tcp']).toEqual([
      { HostIp: primaryAddress(), HostPort: String(ports[rid(n3)]) },
    ]);
    const address = c.NetworkSettings.Networks[`pgfleet-${cluster}`]!.IPAddress;
    expect(await runtime.endpoint(rid(n3))).toMatchObject({ host: address, port: 5432 });
  });

  it('puts an unplaced node on the least loaded host; another cluster reaches none of these nodes', async () => {
    await runtime.create({ clusterId: other, nodeId: outsider, major: 15, port: await portOf(outsider) });
    expect(await runtime.hosts!.locate(outsider)).toMatchObject({ host: names[0] });
    await runtime.initialize(outsider, { plan: sandbox });
    await runtime.start(outsider);
    const probe = async (from: string, host: string, port: number) =>
      (await runtime.exec(from, 'pg_isready', ['-h', host, '-p', String(port), '-t', '3'])).code;
    const address = primaryAddress();
    // From the other cluster's container: neither the leader (same host) nor a follower (other host).
    expect(await probe(outsider, address, ports[rid(n1)]!)).not.toBe(0);
    expect(await probe(outsider, address, ports[rid(n2)]!)).not.toBe(0);
    const ipOf = async (host: TestHost, nodeId: string) =>
      (await host.docker.getContainer(`pgfleet-${cluster}-${nodeId}`).inspect()).NetworkSettings.Networks[
        `pgfleet-${cluster}`
      ]!.IPAddress;
    expect(await probe(outsider, await ipOf(hosts[0]!, rid(n1)), 5432)).not.toBe(0);
    expect(await probe(outsider, await ipOf(hosts[1]!, rid(n2)), 5432)).not.toBe(0);
    // Inside the cluster, across its hosts both ways: by the name its certificate carries (a node
    // learns its peers' names before it starts or connects to one), and through the address.
    expect(await probe(rid(n2), rid(n1), ports[rid(n1)]!)).toBe(0);
    expect(await probe(rid(n1), address, ports[rid(n3)]!)).toBe(0);
    expect(await probe(rid(n2), address, ports[rid(n3)]!)).toBe(0); // on one host, through its address too
    const bridges = await isolatedBridges();
    expect(bridges).toEqual(
      expect.arrayContaining([bridgeName(cluster), bridgeName(cluster, names[1]), bridgeName(other)]),
    );
  });

  it('copies a stopped node into a node of the other host (a cold copy streamed between the hosts)', async () => {
    await sql(outsider, 'CREATE TABLE c AS SELECT 42 AS v');
    await runtime.stop(outsider);
    const port = await portOf(outsiderCopy);
    await runtime.create({ clusterId: other, nodeId: outsiderCopy, major: 15, port, host: names[1] });
    const leader = { ...(await runtime.peerAddress(outsider)), user: 'replicator', password: replicatorPassword };
    await runtime.copyStopped(outsiderCopy, { plan: sandbox, sourceNodeId: outsider, leader, slotName: 'copy' });
    await runtime.start(outsiderCopy);
    expect(await sql(outsiderCopy, 'SELECT pg_is_in_recovery() AS r, (SELECT v FROM c) AS v')).toEqual([
      { r: true, v: 42 },
    ]);
    expect(await runtime.hosts!.locate(outsiderCopy)).toMatchObject({ host: names[1] });
  });

  it('promotes a follower of the other host and rewinds the old leader onto it (pg_rewind across hosts)', async () => {
    await runtime.fence(rid(n1));
    await runtime.promote(rid(n2));
    await sql(rid(n2), "INSERT INTO t VALUES ('three')");
    await runtime.stop(rid(n1));
    await runtime.rewind(rid(n1), rid(n2));
    const leader = { ...(await runtime.peerAddress(rid(n2))), user: 'replicator', password: replicatorPassword };
    await withClient(await runtime.endpoint(rid(n2)), (q) =>
      q.query('SELECT pg_create_physical_replication_slot($1)', [slotName(n1)]),
    );
    await runtime.follow(rid(n1), { ...leader, sslmode: 'verify-full' }, slotName(n1));
    await runtime.start(rid(n1));
    await eventually(
      () => sql<{ n: number }>(rid(n1), 'SELECT count(*)::int AS n FROM t'),
      (r) => r[0]?.n === 3,
    );
  });

  it('remove leaves no container, volume or network of the cluster on either host, nor its isolation', async () => {
    for (const n of [rid(n1), rid(n2), rid(n3), outsider, outsiderCopy]) await runtime.remove(n);
    for (const host of hosts) {
      expect(await leftovers(host, cluster)).toEqual({ containers: 0, volumes: 0, networks: 0 });
      expect(await leftovers(host, other)).toEqual({ containers: 0, volumes: 0, networks: 0 });
    }
    expect(await runtime.list(cluster)).toEqual([]);
    expect((await runtime.status(rid(n2))).state).toBe('missing');
    const bridges = await isolatedBridges();
    for (const b of [bridgeName(cluster), bridgeName(cluster, names[1]), bridgeName(other)])
      expect(bridges).not.toContain(b);
  });
});
