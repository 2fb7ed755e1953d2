import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPlan, type Plan } from '@pgfleet/contracts';
import { createReplicationRole, freePort, generatePassword, withClient } from '@pgfleet/postgres';
import type { NodeRuntime } from '../port.js';
import { bridgeName, LABEL } from './containers.js';
import { createDockerRuntime } from './dockerRuntime.js';
import { isolatedBridges } from './isolation.js';
import { eventually, startTestHost, type TestHost } from './testing/podmanHost.js';

const plan: Plan = findPlan('sandbox')!;
const a = 'dka';
const b = 'dkb';
const nodeA1 = `${a}--n1`;
const nodeA2 = `${a}--n2`;
const nodeB1 = `${b}--n1`;
const c = 'dkc';
const nodeC1 = `${c}--n1`;
const nodeC2 = `${c}--n2`;
const replicatorPassword = generatePassword();
let host: TestHost;
let docker: Docker;
let home: string;
let runtime: NodeRuntime;
const ports: Record<string, number> = {};
const timings: Record<string, number> = {};

const sql = async <T extends Record<string, unknown>>(nodeId: string, text: string): Promise<T[]> =>
  withClient(await runtime.endpoint(nodeId), async (q) => (await q.query<T>(text)).rows);

/** Everything of this test's clusters on the service: containers, volumes, networks. */
async function leftovers(clusterId: string) {
  const label = { label: [`${LABEL.cluster}=${clusterId}`] };
  const containers = await docker.listContainers({ all: true, filters: label });
  const volumes = (await docker.listVolumes({ filters: label })).Volumes ?? [];
  const networks = await docker.listNetworks({ filters: label });
  return { containers: containers.length, volumes: volumes.length, networks: networks.length };
}

async function createAndStart(clusterId: string, nodeId: string): Promise<number> {
  const started = Date.now();
  await runtime.create({ clusterId, nodeId, major: 15, port: ports[nodeId]! });
  await runtime.initialize(nodeId, { plan });
  await runtime.start(nodeId);
  return Date.now() - started;
}

beforeAll(async () => {
  const started = Date.now();
  host = await startTestHost('pgfleet-dk-');
  docker = host.docker;
  home = join(host.tmp, 'home');
  timings.image = Date.now() - started;
  for (const n of [nodeA1, nodeA2, nodeB1, nodeC1, nodeC2]) ports[n] = await freePort();
  runtime = createDockerRuntime({ home, docker: host.service.socketPath, image: host.image });
}, 20 * 60_000);

afterAll(async () => {
  console.log(`docker driver timings (ms): ${JSON.stringify(timings)}`);
  await host?.cleanup([a, b, c], [`${LABEL.role}=pitr`]);
}, 120_000);

describe('docker driver on a Podman API service', () => {
  it('runs a node in its own container, on its cluster network, reached at its address there', async () => {
    timings.createAndStart = await createAndStart(a, nodeA1);
    await sql(nodeA1, 'CREATE TABLE t (v text)');
    await sql(nodeA1, "INSERT INTO t VALUES ('one')");
    expect(await sql(nodeA1, 'SELECT v FROM t')).toEqual([{ v: 'one' }]);

    const c = await docker.getContainer(`pgfleet-${a}-${nodeA1}`).inspect();
    expect(c.Config.Labels).toMatchObject({ [LABEL.cluster]: a, [LABEL.node]: nodeA1, [LABEL.major]: '15' });
    expect(c.HostConfig.RestartPolicy?.Name).toBe('no');
    // No port on the host: the control plane reaches the container's address on its network, as
    // the host's address on the bridge (its gateway, in the cluster's subnet that pg_hba lets in).
    expect(c.Config.Labels[LABEL.port]).toBe(String(ports[nodeA1]));
    const bound = (byPort: Record<string, unknown[] | null> | undefined) =>
      Object.values(byPort ?? {}).flatMap((bindings) => bindings ?? []);
    expect(bound(c.HostConfig.PortBindings)).toEqual([]);
    expect(bound(c.NetworkSettings.Ports)).toEqual([]);
    expect(Object.keys(c.NetworkSettings.Networks)).toEqual([`pgfleet-${a}`]);
    const endpoint = await runtime.endpoint(nodeA1);
    expect(endpoint).toMatchObject({ host: c.NetworkSettings.Networks[`pgfleet-${a}`]!.IPAddress, port: 5432 });
    const gateway = (await docker.getNetwork(`pgfleet-${a}`).inspect()).IPAM?.Config?.[0]?.Gateway;
    expect(gateway).toEqual(expect.stringMatching(/^\d+\.\d+\.\d+\.\d+$/));
    const query = 'SELECT host(inet_client_addr()) AS addr';
    expect(await sql(nodeA1, query)).toEqual([{ addr: gateway }]);
    expect(await runtime.peerAddress(nodeA1)).toEqual({ host: nodeA1, port: 5432 });

    const r = await runtime.exec(nodeA1, 'psql', ['-Atc', 'SELECT count(*) FROM t']);
    expect(r).toMatchObject({ code: 0, stdout: '1\n' });
    const dump = runtime.runTool(nodeA1, 'pg_dump', ['--table=t'], { database: 'postgres' });
    let text = '';
    for await (const chunk of dump.stdout) text += chunk.toString();
    await dump.done;
    expect(text).toContain('CREATE TABLE public.t');
  });

  it('never makes a second container for a node: create again is a no-op, another spec is NODE_EXISTS', async () => {
    const again = await runtime.create({ clusterId: a, nodeId: nodeA1, major: 15, port: ports[nodeA1]! });
    expect(again).toMatchObject({ clusterId: a, nodeId: nodeA1, port: ports[nodeA1] });
    const other = runtime.create({ clusterId: a, nodeId: nodeA1, major: 15, port: ports[nodeA2]! });
    await expect(other).rejects.toMatchObject({ code: 'NODE_EXISTS' });
    expect((await leftovers(a)).containers).toBe(1);
  });

  it('a new driver instance finds the node from its labels; stop, start and kill -9 keep the data', async () => {
    runtime = createDockerRuntime({ home, docker: host.service.socketPath, image: host.image });
    const [listed] = await runtime.list(a);
    expect(listed).toMatchObject({ clusterId: a, nodeId: nodeA1, major: 15, port: ports[nodeA1], state: 'running' });

    await runtime.stop(nodeA1);
    expect((await runtime.status(nodeA1)).state).toBe('stopped');
    await runtime.start(nodeA1);
    expect(await sql(nodeA1, 'SELECT v FROM t')).toEqual([{ v: 'one' }]);

    await runtime.kill9(nodeA1);
    expect((await runtime.status(nodeA1)).state).toBe('stopped');
    const { pid } = await runtime.start(nodeA1);
    expect((await runtime.status(nodeA1)).pid).toBe(pid);
    expect(await sql(nodeA1, 'SELECT v FROM t')).toEqual([{ v: 'one' }]);

    // The container itself stopped and started again (its address may change): reached where it is now.
    const container = docker.getContainer(`pgfleet-${a}-${nodeA1}`);
    await container.stop();
    expect((await runtime.status(nodeA1)).state).toBe('stopped');
    await runtime.start(nodeA1);
    const address = (await container.inspect()).NetworkSettings.Networks[`pgfleet-${a}`]!.IPAddress;
    expect((await runtime.endpoint(nodeA1)).host).toBe(address);
    expect(await sql(nodeA1, 'SELECT v FROM t')).toEqual([{ v: 'one' }]);
  });

  it('streams the leader to a follower cloned on the cluster network, promoted after a fence', async () => {
    await createReplicationRole(await runtime.endpoint(nodeA1), { role: 'replicator', password: replicatorPassword });
    await runtime.create({ clusterId: a, nodeId: nodeA2, major: 15, port: ports[nodeA2]! });
    const leader = { ...(await runtime.peerAddress(nodeA1)), user: 'replicator', password: replicatorPassword };
    const started = Date.now();
    await runtime.cloneFrom(nodeA2, { plan, leader, slotName: 'n2' });
    await runtime.start(nodeA2);
    timings.cloneAndStart = Date.now() - started;
    await sql(nodeA1, "INSERT INTO t VALUES ('two')");
    await eventually(
      () => sql<{ v: string }>(nodeA2, 'SELECT v FROM t ORDER BY v'),
      (rows) => rows.length === 2,
    );
    expect(await sql(nodeA1, 'SELECT application_name, state FROM pg_stat_replication')).toEqual([
      { application_name: 'n2', state: 'streaming' },
    ]);

    const { checkpoint } = await runtime.fence(nodeA1);
    expect(checkpoint).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    await expect(sql(nodeA1, 'SELECT 1')).rejects.toThrow();
    await runtime.promote(nodeA2);
    await sql(nodeA2, "INSERT INTO t VALUES ('three')");
    expect(await sql(nodeA2, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 3 }]);
  });

  it("keeps clusters apart: no container of one cluster reaches another's node, by name or address", async () => {
    await createAndStart(b, nodeB1);
    expect(await isolatedBridges()).toEqual(expect.arrayContaining([bridgeName(a), bridgeName(b)]));
    const ipOf = async (clusterId: string, nodeId: string) =>
      (await docker.getContainer(`pgfleet-${clusterId}-${nodeId}`).inspect()).NetworkSettings.Networks[
        `pgfleet-${clusterId}`
      ]!.IPAddress;
    const ipB1 = await ipOf(b, nodeB1);
    const ipA2 = await ipOf(a, nodeA2);
    const ipv4 = expect.stringMatching(/^\d+\.\d+\.\d+\.\d+$/);
    expect([ipB1, ipA2]).toEqual([ipv4, ipv4]);
    const probe = async (from: string, host: string) =>
      (await runtime.exec(from, 'pg_isready', ['-h', host, '-p', '5432', '-t', '3'])).code;
    // From A's fenced leader's container: B's node neither by name nor by address, and back from B.
    expect(await probe(nodeA1, `pgfleet-${b}-${nodeB1}`)).not.toBe(0);
    expect(await probe(nodeA1, ipB1)).not.toBe(0);
    expect(await probe(nodeB1, ipA2)).not.toBe(0);
    // Inside a cluster, by name and by address; from the host, every node at its address.
    expect(await probe(nodeB1, ipB1)).toBe(0);
    expect(await probe(nodeA1, `pgfleet-${a}-${nodeA2}`)).toBe(0);
    expect(await probe(nodeA1, ipA2)).toBe(0);
    expect(await sql(nodeB1, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    expect(await sql(nodeA2, 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 3 }]);
  });

  it('a warmed driver fills new nodes from spare initdb runs, each with its own system and password', async () => {
    const warmed = createDockerRuntime({ home, docker: host.service.socketPath, image: host.image });
    const systems: bigint[] = [];
    for (const nodeId of [nodeC1, nodeC2]) {
      await warmed.warm!(15); // the first spare, then the one made after the first node took its own
      // A spare's initdb is over before its node exists: its system identifier's high 32 bits are initdb's second.
      await new Promise((r) => setTimeout(r, 1010 - (Date.now() % 1000)));
      const createdAt = BigInt(Math.floor(Date.now() / 1000));
      await warmed.create({ clusterId: c, nodeId, major: 15, port: ports[nodeId]! });
      await warmed.initialize(nodeId, { plan });
      await warmed.start(nodeId);
      const query = 'SELECT system_identifier::text AS id FROM pg_control_system()';
      const [row] = await withClient(await warmed.endpoint(nodeId), async (q) => (await q.query(query)).rows);
      const system = BigInt((row as { id: string }).id);
      expect(system >> 32n).toBeLessThan(createdAt);
      systems.push(system);
    }
    expect(systems[0]).not.toBe(systems[1]);
    const passwords = await Promise.all([nodeC1, nodeC2].map(async (n) => (await warmed.endpoint(n)).password));
    expect(passwords[0]).toEqual(expect.any(String));
    expect(passwords[0]).not.toBe(passwords[1]);
    for (const n of [nodeC1, nodeC2]) await warmed.remove(n);
    expect(await leftovers(c)).toEqual({ containers: 0, volumes: 0, networks: 0 });
  });

  it("remove takes the container and its volume, and the network with the cluster's last node", async () => {
    await runtime.remove(nodeB1);
    expect(await leftovers(b)).toEqual({ containers: 0, volumes: 0, networks: 0 });
    expect((await runtime.status(nodeB1)).state).toBe('missing');
    await runtime.remove(nodeB1); // a missing node: a no-op

    await runtime.remove(nodeA2);
    expect(await leftovers(a)).toEqual({ containers: 1, volumes: 1, networks: 1 });
    await runtime.remove(nodeA1);
    expect(await leftovers(a)).toEqual({ containers: 0, volumes: 0, networks: 0 });
    expect(await runtime.list(a)).toEqual([]);

    // No firewall rule names either cluster's bridge any more (nft lists the iptables-nft tables too).
    const bridges = await isolatedBridges();
    expect(bridges).not.toContain(bridgeName(a));
    expect(bridges).not.toContain(bridgeName(b));
    const ruleset = spawnSync('nft', ['list', 'ruleset'], { encoding: 'utf8' });
    expect(ruleset.status).toBe(0);
    expect(ruleset.stdout).not.toContain(bridgeName(a));
    expect(ruleset.stdout).not.toContain(bridgeName(b));
  });
});
