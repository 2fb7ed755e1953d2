import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldClusterView, streamIds, type CommandReply } from '@pgfleet/contracts';
import { createPostgresEventStore, type PostgresEventStore } from '@pgfleet/eventstore';
import { createLogger } from '@pgfleet/kit';
import { freePort, openSecretStore, ownedTempDir, startLocalServer, type LocalServer } from '@pgfleet/postgres';
import { createProcessRuntime, type NodeRuntime } from '@pgfleet/runtime';
import { createCluster, deleteCluster, retryCluster } from '../commands.js';
import { reconcileCluster } from './reconcile.js';

let server: LocalServer;
let store: PostgresEventStore;
let home: string;
let runtime: NodeRuntime;
const log = createLogger('provisioning-test', 'silent');
const BAD = "\nshared_buffers = 'plenty'\n";

/** The real process runtime, except that while `broken` it writes a setting PostgreSQL refuses before starting. */
let broken = true;
function breakableRuntime(inner: NodeRuntime): NodeRuntime {
  return {
    ...inner,
    start: async (nodeId) => {
      const info = (await inner.status(nodeId)).node!;
      const conf = join(info.dataDir, 'postgresql.conf');
      const text = readFileSync(conf, 'utf8');
      if (broken && !text.includes(BAD)) appendFileSync(conf, BAD);
      if (!broken && text.includes(BAD)) writeFileSync(conf, text.replace(BAD, ''));
      return inner.start(nodeId);
    },
  };
}

const clusterIdOf = (reply: CommandReply): string => {
  const id = reply.ok ? reply.result?.clusterId : undefined;
  if (typeof id !== 'string') throw new Error(`CreateCluster was not accepted: ${JSON.stringify(reply)}`);
  return id;
};

beforeAll(async () => {
  home = await ownedTempDir('pgfleet-prov-');
  server = await startLocalServer({ dataDir: join(home, 'store'), port: await freePort(), settings: { fsync: 'off' } });
  store = createPostgresEventStore({ connectionString: server.url() });
  runtime = breakableRuntime(createProcessRuntime({ home }));
});
afterAll(async () => {
  await store?.close();
  await server?.stop('immediate');
  rmSync(home, { recursive: true, force: true });
});

describe('provisioning worker with real PostgreSQL servers', () => {
  it(
    'records NodeFailed and ClusterProvisioningFailed with the server log line when a node does not start; ' +
      'retry then reaches Ready; delete cleans up',
    async () => {
      const secrets = openSecretStore(home);
      const fragile = { name: 'fragile', plan: 'starter-512', version: 15, accountId: 'acme' } as const;
      const created = await createCluster({ store, secrets }, fragile, {});
      expect(created.ok).toBe(true);
      const clusterId = clusterIdOf(created);
      const stream = streamIds.cluster(clusterId);

      await reconcileCluster({ store, runtime, secrets, log }, clusterId);
      const failed = (await store.readStream(stream)).events;
      expect(failed.map((e) => e.type)).toEqual([
        'ClusterRequested',
        'NodeProvisioned',
        'NodeFailed',
        'ClusterProvisioningFailed',
      ]);
      const failure = failed[3];
      if (failure?.type !== 'ClusterProvisioningFailed') throw new Error('expected ClusterProvisioningFailed');
      expect(failure.data.reason).toContain('shared_buffers');
      expect(foldClusterView(failed).status).toBe('failed');

      broken = false;
      const retried = await retryCluster({ store, secrets }, { clusterId }, {});
      expect(retried).toMatchObject({ ok: true, result: { kind: 'retry', operationId: expect.any(String) } });
      const retryId = retried.ok ? retried.result?.operationId : undefined;
      await reconcileCluster({ store, runtime, secrets, log }, clusterId);
      const ready = (await store.readStream(stream)).events;
      expect(ready.slice(4).map((e) => e.type)).toEqual([
        'OperationRequested',
        'ClusterProvisioningRetried',
        'NodeStarted',
        'ClusterReady',
        'OperationSucceeded',
      ]);
      expect(ready.slice(4).every((e) => e.actor.kind !== 'service' || e.actor.id === 'provisioning')).toBe(true);
      expect(foldClusterView(ready).ops.operations).toMatchObject([
        { operationId: retryId, kind: 'retry', status: 'succeeded' },
      ]);

      // Retrying a ready cluster is refused with a reason.
      expect(await retryCluster({ store, secrets }, { clusterId }, {})).toMatchObject({
        ok: false,
        code: 'NOT_FAILED',
      });

      const deleting = await deleteCluster({ store, secrets }, { clusterId }, {});
      expect(deleting).toMatchObject({ ok: true, result: { kind: 'delete' } });
      await reconcileCluster({ store, runtime, secrets, log }, clusterId);
      const gone = foldClusterView((await store.readStream(stream)).events);
      expect(gone.status).toBe('deleted');
      expect(gone.ops.operations.at(-1)).toMatchObject({ kind: 'delete', status: 'succeeded' });
      expect(gone.ops.running).toBeUndefined();
      expect((await runtime.list(clusterId)).length).toBe(0);
      expect(await secrets.get(`cluster/${clusterId}/app`)).toBeUndefined();
    },
  );

  it('a name is free again once its cluster is deleted, and taken while it lives', async () => {
    const secrets = openSecretStore(home);
    const reuse = { name: 'reuse', plan: 'sandbox', version: 15, accountId: 'acme' } as const;
    const first = await createCluster({ store, secrets }, reuse, {});
    expect(first.ok).toBe(true);
    const dup = await createCluster({ store, secrets }, reuse, {});
    expect(dup).toMatchObject({ ok: false, code: 'NAME_TAKEN', details: { field: 'name' } });
    const otherAccount = await createCluster({ store, secrets }, { ...reuse, accountId: 'other' }, {});
    expect(otherAccount.ok).toBe(true);
    const clusterId = clusterIdOf(first);
    await deleteCluster({ store, secrets }, { clusterId }, {});
    await reconcileCluster({ store, runtime, secrets, log }, clusterId);
    expect((await createCluster({ store, secrets }, reuse, {})).ok).toBe(true);
  });

  it(
    'an event store that fails an append in the middle of a provisioning is thrown back (to be redelivered), never ' +
      'recorded as a failure; the next run makes the cluster ready',
    async () => {
      const secrets = openSecretStore(home);
      const request = { name: 'outage', plan: 'starter-512', version: 15, accountId: 'acme' } as const;
      const clusterId = clusterIdOf(await createCluster({ store, secrets }, request, {}));
      let down = false;
      // The store as the worker sees it: the append after the leader's NodeProvisioned fails like a lost connection
      // (once: a failure recorded right after would find the store back).
      const flaky = new Proxy(store, {
        get(target, key, receiver) {
          const value = Reflect.get(target, key, receiver);
          if (key !== 'appendToStream' || typeof value !== 'function') return value;
          return async (...args: unknown[]) => {
            if (down) {
              down = false;
              throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
            }
            const appended = await value.apply(target, args);
            if (JSON.stringify(args[1]).includes('NodeProvisioned')) down = true;
            return appended;
          };
        },
      });
      await expect(reconcileCluster({ store: flaky, runtime, secrets, log }, clusterId)).rejects.toThrow(
        /event store is unavailable .*ECONNREFUSED/,
      );
      const during = (await store.readStream(streamIds.cluster(clusterId))).events.map((e) => e.type);
      expect(during).toEqual(['ClusterRequested', 'NodeProvisioned']);
      await reconcileCluster({ store: flaky, runtime, secrets, log }, clusterId);
      const after = foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events);
      expect(after.failureReason).toBeUndefined();
      expect(after.status).toBe('ready');
      await deleteCluster({ store, secrets }, { clusterId }, {});
      await reconcileCluster({ store, runtime, secrets, log }, clusterId);
    },
  );
});
