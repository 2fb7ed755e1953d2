import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPlan, runtimeNodeId } from '@pgfleet/contracts';
import { createHaproxyGateways, type GatewaySpec, type HaproxyGateways } from '@pgfleet/gateway';
import { freePort, withClient } from '@pgfleet/postgres';
import { IN_CONTAINER, LABEL } from './containers.js';
import { createDockerRuntime } from './dockerRuntime.js';
import { containerGatewayPlace, gatewayContainerName, gatewayNetName } from './gatewayContainers.js';
import { networkIsolation } from './isolation.js';
import { eventually, startTestHost, type TestHost } from './testing/podmanHost.js';
import type { NodeRuntime } from '../port.js';

const cluster = 'gwc';
const other = 'gwo';
const n1 = runtimeNodeId(cluster, 'node1');
const o1 = runtimeNodeId(other, 'node1');
let host: TestHost;
let docker: Docker;
let home: string;
let runtime: NodeRuntime;
let gateways: HaproxyGateways;
let port: number;
let readOnlyPort: number;
const nodePorts: Record<string, number> = {};
/** What the node answers through the gateway: its data directory. */
const DATA = IN_CONTAINER.dataDir;

const spec = (leader: string | undefined, binds = [{ host: '127.0.0.1', port }]): GatewaySpec => ({
  clusterId: cluster,
  gatewayId: 'gw1',
  binds,
  readOnly: { binds: [{ host: '127.0.0.1', port: readOnlyPort }], nodeIds: [] },
  nodes: [{ nodeId: 'node1', host: '127.0.0.1', port: nodePorts[n1]! }],
  ...(leader ? { leaderNodeId: leader } : {}),
});

/** `SELECT 1` as the superuser through the gateway's published port. */
async function throughGateway(at = port, address = '127.0.0.1'): Promise<string> {
  const endpoint = await runtime.endpoint(n1);
  return withClient({ ...endpoint, host: address, port: at }, async (q) => {
    const rows = await q.query<{ name: string }>("SELECT current_setting('data_directory') AS name");
    return rows.rows[0]!.name;
  });
}

const containersOf = async (clusterId: string) =>
  docker.listContainers({ all: true, filters: { label: [`${LABEL.cluster}=${clusterId}`] } });

beforeAll(async () => {
  host = await startTestHost('pgfleet-gwc-');
  docker = host.docker;
  home = join(host.tmp, 'home');
  port = await freePort();
  readOnlyPort = await freePort();
  for (const n of [n1, o1]) nodePorts[n] = await freePort();
  runtime = createDockerRuntime({ home, docker: host.service.socketPath, image: host.image });
  for (const [clusterId, nodeId] of [
    [cluster, n1],
    [other, o1],
  ] as const) {
    await runtime.create({ clusterId, nodeId, major: 15, port: nodePorts[nodeId]! });
    await runtime.initialize(nodeId, { plan: findPlan('sandbox')! });
    await runtime.start(nodeId);
  }
  const place = containerGatewayPlace({
    home,
    docker,
    image: host.image,
    isolation: networkIsolation(docker, console.warn),
  });
  gateways = createHaproxyGateways({ home, place });
}, 20 * 60_000);

afterAll(async () => {
  for (const g of ['gw1', 'gw2']) await gateways?.remove(cluster, g).catch(() => undefined);
  await host?.cleanup([cluster, other]);
}, 120_000);

describe('gateways as containers on a Podman API service', () => {
  it('serves the leader through the only published port, from a container on the cluster network', async () => {
    expect(await gateways.start(spec('node1'))).toMatchObject({ action: 'started' });
    expect(await throughGateway()).toBe(DATA);

    const net = await docker.getContainer(gatewayNetName(cluster)).inspect();
    expect(Object.keys(net.NetworkSettings.Networks)).toEqual([`pgfleet-${cluster}`]);
    const published = Object.entries(net.HostConfig.PortBindings ?? {}).map(([p, b]) => [p, b]);
    expect(published).toEqual(
      expect.arrayContaining([
        [`${port}/tcp`, [{ HostIp: '127.0.0.1', HostPort: String(port) }]],
        [`${readOnlyPort}/tcp`, [{ HostIp: '127.0.0.1', HostPort: String(readOnlyPort) }]],
      ]),
    );
    const gw = await docker.getContainer(gatewayContainerName(cluster, 'gw1')).inspect();
    expect(gw.HostConfig.NetworkMode).toBe(`container:${net.Id}`);
    expect(gw.HostConfig.RestartPolicy?.Name).toBe('no');
    // The only container of either cluster that publishes a port on the host is the gateways' one.
    const publishing: string[] = [];
    for (const c of [...(await containersOf(cluster)), ...(await containersOf(other))]) {
      const bindings = (await docker.getContainer(c.Id).inspect()).HostConfig.PortBindings ?? {};
      if (Object.values(bindings).some((b) => (b ?? []).length > 0)) publishing.push(c.Names[0]!);
    }
    expect(publishing).toEqual([`/${gatewayNetName(cluster)}`]);
    // HAProxy reaches the node by its host name on the network, resolved again while it runs.
    const config = (await gateways.status(cluster, 'gw1')).files.config;
    expect(readFileSync(config, 'utf8')).toMatch(new RegExp(`server node1 ${n1}:5432 check`));
  });

  it('two gateways share the address: one killed, the other serves; started again, both run', async () => {
    await gateways.start({ ...spec('node1'), gatewayId: 'gw2' });
    for (const g of ['gw1', 'gw2']) expect((await gateways.status(cluster, g)).state).toBe('running');
    await gateways.kill9(cluster, 'gw1');
    expect((await gateways.status(cluster, 'gw1')).state).toBe('stopped');
    expect(
      await eventually(
        () => throughGateway(),
        (name) => name === DATA,
      ),
    ).toBe(DATA);
    expect(await gateways.start(spec('node1'))).toMatchObject({ action: 'started' });
    expect((await gateways.status(cluster, 'gw1')).state).toBe('running');
  });

  it('routes at runtime (no reload) and reloads seamlessly on a new config', async () => {
    const before = (await gateways.status(cluster, 'gw1')).pid;
    expect(await gateways.start(spec(undefined), { statesAtRuntime: true })).toMatchObject({
      action: 'rerouted',
      pid: before,
    });
    await gateways.start({ ...spec(undefined), gatewayId: 'gw2' }, { statesAtRuntime: true });
    await expect(throughGateway()).rejects.toThrow();
    await gateways.start(spec('node1'), { statesAtRuntime: true });
    // gw1 alone on the port, so the session below is its own (with gw2 too, the kernel picks either).
    await gateways.stop(cluster, 'gw2');
    // A session open across a reload stays with the replaced process, until stopDraining cuts it.
    const endpoint = await runtime.endpoint(n1);
    // The node is back once its health check passes.
    const session = await eventually(
      async () => {
        const client = new pg.Client({ ...endpoint, host: '127.0.0.1', port });
        client.on('error', () => undefined);
        await client.connect().catch(async (error: Error) => {
          await client.end().catch(() => undefined);
          throw error;
        });
        return client;
      },
      () => true,
    );
    const ended = new Promise((resolve) => session.on('error', resolve));
    try {
      const reloaded = await gateways.start({ ...spec('node1'), maxConn: 500 });
      expect(reloaded.action).toBe('reloaded');
      expect(reloaded.pid).not.toBe(before);
      expect((await gateways.status(cluster, 'gw1')).drainingPids).toEqual([before]);
      expect(await gateways.stopDraining(cluster, 'gw1')).toEqual([before]);
      await ended;
      expect(await throughGateway()).toBe(DATA);
    } finally {
      await session.end().catch(() => undefined);
    }
  });

  it('a new published address remakes the gateways in place; removing them leaves nothing of them', async () => {
    const extra = await freePort();
    const binds = [
      { host: '127.0.0.1', port },
      { host: '127.0.0.2', port: extra },
    ];
    await gateways.start(spec('node1', binds));
    await gateways.start({ ...spec('node1', binds), gatewayId: 'gw2' });
    expect(await throughGateway()).toBe(DATA);
    expect(await throughGateway(extra, '127.0.0.2')).toBe(DATA);
    for (const g of ['gw1', 'gw2']) await gateways.remove(cluster, g);
    const left = (await containersOf(cluster)).map((c) => c.Labels[LABEL.role]);
    expect(left).toEqual(['node']);
    expect((await gateways.status(cluster, 'gw1')).state).toBe('missing');
  });

  it('prepare makes the containers ahead, no HAProxy; the start runs HAProxy in the same container', async () => {
    const [at, readOnlyAt] = [await freePort(), await freePort()];
    const made: GatewaySpec = {
      clusterId: other,
      gatewayId: 'gw1',
      binds: [{ host: '127.0.0.1', port: at }],
      readOnly: { binds: [{ host: '127.0.0.1', port: readOnlyAt }], nodeIds: [] },
      nodes: [],
    };
    await gateways.prepare!(made);
    await gateways.prepare!(made); // idempotent
    const prepared = await docker.getContainer(gatewayContainerName(other, 'gw1')).inspect();
    expect(prepared.State.Running).toBe(true);
    expect((await docker.getContainer(gatewayNetName(other)).inspect()).State.Running).toBe(true);
    expect((await gateways.status(other, 'gw1')).state).toBe('missing');

    const nodes = [{ nodeId: 'node1', host: '127.0.0.1', port: nodePorts[o1]! }];
    expect(await gateways.start({ ...made, nodes, leaderNodeId: 'node1' })).toMatchObject({ action: 'started' });
    expect((await docker.getContainer(gatewayContainerName(other, 'gw1')).inspect()).Id).toBe(prepared.Id);
    const endpoint = await runtime.endpoint(o1);
    const served = await eventually(
      () =>
        withClient({ ...endpoint, host: '127.0.0.1', port: at }, async (q) => {
          const rows = await q.query<{ addr: string }>('SELECT host(inet_server_addr()) AS addr');
          return rows.rows[0]!.addr;
        }),
      () => true,
    );
    // The node of the other cluster, at its address on that cluster's network.
    expect(served).toBe(endpoint.host);
    await gateways.remove(other, 'gw1');
    expect((await containersOf(other)).map((c) => c.Labels[LABEL.role])).toEqual(['node']);
  });
});
