import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { foldClusterView, streamIds } from '@pgfleet/contracts';
import { createAdvisoryLocks, createPostgresEventStore, type EventStore } from '@pgfleet/eventstore';
import { freePort, type LocalServer, ownedTempDir, startLocalServer } from '@pgfleet/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { executeOperation, OperationFailure, operationIdFor, requestOperation } from './operations.js';

let dir: string | undefined;
let server: LocalServer | undefined;
let store: EventStore;
const log = createLogger('test', 'silent');

beforeAll(async () => {
  dir = await ownedTempDir('pgfleet-kit-ops-');
  server = await startLocalServer({ dataDir: join(dir, 'data'), port: await freePort() });
  store = createPostgresEventStore({ connectionString: server.url() });
});

afterAll(async () => {
  await store?.close().catch(() => undefined);
  await server?.stop('immediate').catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
});

let n = 0;
/** A cluster stream with ClusterRequested: operations need an existing cluster. */
async function aCluster(): Promise<string> {
  const clusterId = `ops-${++n}`;
  await store.appendToStream(streamIds.cluster(clusterId), [
    {
      type: 'ClusterRequested',
      data: {
        clusterId,
        name: `ops${n}x`,
        accountId: 'default',
        plan: 'starter-512',
        version: 15,
        nodes: [{ nodeId: 'node1', role: 'leader' }],
        secretRef: `cluster/${clusterId}/app`,
      },
    },
  ]);
  return clusterId;
}

const view = async (clusterId: string) =>
  foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events);

describe('operations on a cluster stream (real event store)', () => {
  it('two requests at once: exactly one starts, the other is refused OPERATION_IN_PROGRESS naming it', async () => {
    const clusterId = await aCluster();
    const replies = await Promise.all(
      ['a', 'b'].map((to) => requestOperation(store, clusterId, { kind: 'switchover', params: { to } })),
    );
    const accepted = replies.filter((r) => r.ok);
    const refused = replies.filter((r) => !r.ok);
    expect(accepted).toHaveLength(1);
    expect(refused).toHaveLength(1);
    const running = (await view(clusterId)).ops;
    expect(running.operations).toHaveLength(1);
    const first = accepted[0]!;
    if (!first.ok || refused[0]!.ok) throw new Error('unreachable');
    expect(refused[0]).toMatchObject({
      code: 'OPERATION_IN_PROGRESS',
      details: { operationId: first.result!.operationId, kind: 'switchover' },
    });
  });

  it('the same commandId twice asks for one operation', async () => {
    const clusterId = await aCluster();
    const meta = { commandId: 'cli-1234' };
    const one = await requestOperation(store, clusterId, { kind: 'expose', params: {} }, meta);
    const two = await requestOperation(store, clusterId, { kind: 'expose', params: {} }, meta);
    expect(one).toMatchObject({ ok: true, result: { operationId: operationIdFor('cli-1234') } });
    expect(two).toMatchObject({ ok: true, result: { operationId: operationIdFor('cli-1234') } });
    expect((await view(clusterId)).ops.operations).toHaveLength(1);
  });

  it('a run interrupted after a step resumes: completed steps are skipped, then it succeeds', async () => {
    const clusterId = await aCluster();
    const reply = await requestOperation(store, clusterId, { kind: 'tls-force', params: {} });
    if (!reply.ok) throw new Error(reply.message);
    const operationId = String(reply.result!.operationId);
    const ran: string[] = [];
    let crash = true;
    const executor = async (run: Parameters<Parameters<typeof executeOperation>[3]>[0]) => {
      const one = await run.step('one', async () => {
        ran.push('one');
        return { port: 5432 };
      });
      if (crash) throw new Error('killed');
      await run.step('two', async () => {
        ran.push('two');
        return undefined;
      });
      return { port: one.port };
    };
    await expect(executeOperation({ store, log }, clusterId, operationId, executor)).rejects.toThrow('killed');
    expect((await view(clusterId)).ops.operations[0]).toMatchObject({ status: 'running', steps: [{ step: 'one' }] });
    crash = false;
    expect(await executeOperation({ store, log }, clusterId, operationId, executor)).toBe('succeeded');
    expect(ran).toEqual(['one', 'two']);
    const op = (await view(clusterId)).ops.operations[0]!;
    expect(op).toMatchObject({ status: 'succeeded', result: { port: 5432 } });
    expect(op.steps.map((s) => s.step)).toEqual(['one', 'two']);
    expect((await view(clusterId)).ops.running).toBeUndefined();
    expect(await executeOperation({ store, log }, clusterId, operationId, executor)).toBe('skipped');
  });

  it('an OperationFailure ends it OperationFailed {step, reason}, and the next operation may start', async () => {
    const clusterId = await aCluster();
    const reply = await requestOperation(store, clusterId, { kind: 'certs-rotate', params: {} });
    if (!reply.ok) throw new Error(reply.message);
    const outcome = await executeOperation({ store, log }, clusterId, String(reply.result!.operationId), async () => {
      throw new OperationFailure('reload:node1', 'node1 is not running');
    });
    expect(outcome).toBe('failed');
    expect((await view(clusterId)).ops.operations[0]).toMatchObject({
      status: 'failed',
      failedStep: 'reload:node1',
      error: 'node1 is not running',
    });
    expect(await requestOperation(store, clusterId, { kind: 'certs-rotate', params: {} })).toMatchObject({ ok: true });
  });

  it('a failure while the service stops is not recorded: the operation stays running, resumed next start', async () => {
    const clusterId = await aCluster();
    const reply = await requestOperation(store, clusterId, { kind: 'certs-rotate', params: {} });
    if (!reply.ok) throw new Error(reply.message);
    const operationId = String(reply.result!.operationId);
    let attempt = 0;
    const executor = async () => {
      attempt += 1;
      if (attempt === 1) throw new OperationFailure('reload:node1', 'pg_ctl killed by SIGINT');
      return undefined;
    };
    await expect(
      executeOperation({ store, log, stopping: () => true }, clusterId, operationId, executor),
    ).rejects.toThrow('failed while stopping');
    expect((await view(clusterId)).ops.operations[0]).toMatchObject({ status: 'running' });
    expect(await executeOperation({ store, log, stopping: () => false }, clusterId, operationId, executor)).toBe(
      'succeeded',
    );
  });

  it('two replicas run one operation: one executes it, the other skips it while the lock is held', async () => {
    const clusterId = await aCluster();
    const reply = await requestOperation(store, clusterId, { kind: 'certs-rotate', params: {} });
    if (!reply.ok) throw new Error(reply.message);
    const operationId = String(reply.result!.operationId);
    const { tryLock } = createAdvisoryLocks(server!.url());
    let runs = 0;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const executor = async () => {
      runs += 1;
      await held;
      return undefined;
    };
    const first = executeOperation({ store, log, tryLock }, clusterId, operationId, executor);
    await new Promise((r) => setTimeout(r, 300)); // the first holds the lock by now
    expect(await executeOperation({ store, log, tryLock }, clusterId, operationId, executor)).toBe('skipped');
    release();
    expect(await first).toBe('succeeded');
    expect(runs).toBe(1);
    // Released: a later run finds it ended.
    expect(await executeOperation({ store, log, tryLock }, clusterId, operationId, executor)).toBe('skipped');
  });

  it('no operation on a cluster that does not exist', async () => {
    expect(await requestOperation(store, 'nope-1', { kind: 'switchover', params: {} })).toMatchObject({
      ok: false,
      code: 'CLUSTER_NOT_FOUND',
    });
  });
});
