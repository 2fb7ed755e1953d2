import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPlan, runtimeNodeId } from '@pgfleet/contracts';
import { createHaproxyGateways } from '@pgfleet/gateway';
import { ensureClusterTls, freePort, nodeTlsFiles, ownedTempDir } from '@pgfleet/postgres';
import { createProcessRuntime, type NodeRuntime } from '@pgfleet/runtime';

/**
 * What a service of the platform holds in its environment: the event store's superuser URL, NATS
 * credentials, the API token, the secret store key. Set in this process before any node or
 * gateway starts, so a child built from a copy of `process.env` would show them.
 */
const SECRETS: Record<string, string> = {
  PGFLEET_EVENTSTORE_URL: 'postgres://postgres:es-Secret-4711@127.0.0.1:5999/pgfleet',
  PGFLEET_NATS_URL: 'tls://127.0.0.1:4999',
  PGFLEET_NATS_USER: 'nats-user-Secret-4711',
  PGFLEET_NATS_PASSWORD: 'nats-Secret-4711',
  PGFLEET_API_TOKEN: 'api-Secret-4711',
  PGFLEET_SECRET_KEY: 'key-Secret-4711',
  PGPASSWORD: 'pg-Secret-4711',
};
const clusterId = 'envcheck-0001';
const nodeId = 'node1';
let home: string;
let runtime: NodeRuntime;
const saved: Record<string, string | undefined> = {};
const gateways = () => createHaproxyGateways({ home });

/** The environment of a live process, as /proc shows it to anyone allowed to read it. */
function environOf(pid: number): Record<string, string> {
  const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  return Object.fromEntries(
    raw
      .split('\0')
      .filter((kv) => kv.includes('='))
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

function expectNoPlatformSecret(env: Record<string, string>): void {
  const names = Object.keys(env);
  expect(names.filter((n) => n.startsWith('PGFLEET_') || n === 'PGPASSWORD')).toEqual([]);
  const values = Object.values(env).join('\n');
  for (const secret of Object.values(SECRETS)) expect(values).not.toContain(secret);
  expect(values).not.toMatch(/Secret-4711/);
}

beforeAll(async () => {
  for (const [name, value] of Object.entries(SECRETS)) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
  home = await ownedTempDir('pgfleet-childenv-');
  runtime = createProcessRuntime({ home });
});

afterAll(async () => {
  await gateways()
    .remove(clusterId, 'gw1')
    .catch(() => undefined);
  await runtime?.remove(runtimeNodeId(clusterId, nodeId)).catch(() => undefined);
  if (home) rmSync(home, { recursive: true, force: true });
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe('children of the platform get an environment built on purpose', () => {
  it('/proc/PID/environ of a tenant postmaster and of its gateway HAProxy holds no platform secret', async () => {
    const id = runtimeNodeId(clusterId, nodeId);
    const port = await freePort();
    await ensureClusterTls(home, clusterId, [nodeId]);
    await runtime.create({ clusterId, nodeId: id, major: 15, port });
    await runtime.initialize(id, { plan: findPlan('sandbox')!, tls: nodeTlsFiles(home, clusterId, nodeId) });
    const { pid: postmaster } = await runtime.start(id);

    const gateway = await gateways().start({
      clusterId,
      gatewayId: 'gw1',
      binds: [{ host: '127.0.0.1', port: await freePort() }],
      nodes: [{ nodeId, host: '127.0.0.1', port }],
      leaderNodeId: nodeId,
      check: { intervalMs: 1000, fall: 2, rise: 1 },
    });

    const pgEnv = environOf(postmaster);
    expectNoPlatformSecret(pgEnv);
    expect(pgEnv.PATH).toBeDefined(); // built on purpose, not emptied
    expectNoPlatformSecret(environOf(gateway.pid));
  });
});
