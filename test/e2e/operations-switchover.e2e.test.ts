import type { NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendCommand } from '@pgfleet/bus';
import { foldClusterView, streamIds, type ClusterView, type CommandReply, type Operation } from '@pgfleet/contracts';
import { createPostgresEventStore, type EventStore } from '@pgfleet/eventstore';
import { psql, startPlatform, waitFor, type TestPlatform } from './harness.js';

/**
 * Switchover as an operation, end to end, driven over NATS (SwitchoverCluster) and read from the
 * event store: one at a time per cluster, never two nodes that accept writes, and a provisioning
 * service killed at any step resumes the operation to an end.
 */

interface NodeRow {
  nodeId: string;
  port: number;
}
interface Shown {
  nodes: NodeRow[];
}

let t: TestPlatform;
let nc: NatsConnection;
let store: EventStore;
let events: pg.Client;
let clusterId: string;
let nodes: NodeRow[];
let url: string;

const view = async (): Promise<ClusterView> =>
  foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events);
const operation = async (operationId: string): Promise<Operation | undefined> =>
  (await view()).ops.operations.find((o) => o.operationId === operationId);
const ended = (operationId: string) =>
  waitFor(
    `operation ${operationId} to end`,
    async () => {
      const op = await operation(operationId);
      return op && op.status !== 'running' ? op : undefined;
    },
    180_000,
  );
const operationIdOf = (reply: CommandReply): string => {
  if (!reply.ok || typeof reply.result?.operationId !== 'string') throw new Error(JSON.stringify(reply));
  return reply.result.operationId;
};
const switchover = (to: string, commandId?: string) =>
  sendCommand(nc, 'provisioning', 'SwitchoverCluster', { clusterId, to }, commandId ? { commandId } : undefined);
/** The same URL the CLI prints, to one node instead of the gateway. */
const nodeUrl = (port: number) => url.replace(/@[^/]+\//, `@127.0.0.1:${port}/`);

/** What one node says now: 'f' accepts writes, 't' is a standby, undefined does not answer. */
async function inRecovery(port: number): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: nodeUrl(port), connectionTimeoutMillis: 1000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const r = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    return r.rows[0]!.r ? 't' : 'f';
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The nodes that accept writes now. */
async function primaries(): Promise<string[]> {
  const said = await Promise.all(nodes.map(async (n) => [n.nodeId, await inRecovery(n.port)] as const));
  return said.filter(([, r]) => r === 'f').map(([nodeId]) => nodeId);
}

/**
 * Asks every node at once, again and again, whether it accepts writes, on one open session per
 * node (a promotion keeps the session; a stop ends it, and it is opened again in the background).
 * A sample counts only when every answer came within 50 ms (a handover, stop then promote, takes
 * longer), so two primaries in one sample means two at the same time.
 */
function watchPrimaries() {
  let stopped = false;
  let most = 0;
  let samples = 0;
  let worst: string[] = [];
  const sessions = new Map<string, pg.Client>();
  const connecting = new Set<string>();
  const open = (n: NodeRow) => {
    if (sessions.has(n.nodeId) || connecting.has(n.nodeId) || stopped) return;
    connecting.add(n.nodeId);
    const client = new pg.Client({ connectionString: nodeUrl(n.port), connectionTimeoutMillis: 1000 });
    client.on('error', () => sessions.delete(n.nodeId));
    client
      .connect()
      .then(() => (stopped ? client.end() : void sessions.set(n.nodeId, client)))
      .catch(() => new Promise((r) => setTimeout(r, 100)))
      .finally(() => connecting.delete(n.nodeId));
  };
  const ask = async (nodeId: string, client: pg.Client): Promise<boolean> => {
    try {
      return (await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r === false;
    } catch {
      sessions.delete(nodeId);
      return false;
    }
  };
  const loop = (async () => {
    while (!stopped) {
      for (const n of nodes) open(n);
      const start = Date.now();
      const said = await Promise.all([...sessions].map(async ([nodeId, c]) => [nodeId, await ask(nodeId, c)] as const));
      if (Date.now() - start <= 50) {
        samples++;
        const found = said.filter(([, primary]) => primary).map(([nodeId]) => nodeId);
        if (found.length > most) [most, worst] = [found.length, found];
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await Promise.all([...sessions.values()].map((c) => c.end().catch(() => undefined)));
      return { most, samples, worst };
    },
  };
}

/** The stream's events of one operation so far, as SQL sees them (a cheap read every few ms). */
async function stepsRecorded(operationId: string): Promise<string[]> {
  const rows = await events.query<{ step: string }>(
    `SELECT data->>'step' AS step FROM pgfleet_eventstore.events
      WHERE stream_id = $1 AND type = 'OperationStepCompleted' AND data->>'operationId' = $2 ORDER BY position`,
    [streamIds.cluster(clusterId), operationId],
  );
  return rows.rows.map((r) => r.step);
}

/** After an operation: exactly one primary, the recorded leader, and the cluster's URL writes to it. */
async function exactlyOneLeaderBehindTheUrl(): Promise<string> {
  const { leader } = await view();
  expect(await primaries()).toEqual([leader]);
  const port = nodes.find((n) => n.nodeId === leader)!.port;
  // Both gateways share the address: settled once five connections in a row reach the leader.
  let inARow = 0;
  await waitFor(
    'the gateways to forward to the leader',
    () => {
      try {
        const reached = psql(url, "SELECT pg_is_in_recovery()::text || current_setting('port')") === `false${port}`;
        inARow = reached ? inARow + 1 : 0;
      } catch {
        inARow = 0;
      }
      return inARow >= 5 || undefined;
    },
    60_000,
  );
  psql(url, 'CREATE TABLE IF NOT EXISTS writes(at timestamptz DEFAULT now()); INSERT INTO writes DEFAULT VALUES');
  return leader!;
}

beforeAll(async () => {
  t = await startPlatform();
  store = createPostgresEventStore({ connectionString: t.platform.eventstoreUrl });
  // Created without waiting in the CLI (the test waits on the store: nothing here depends on how the CLI follows).
  const created = await t.cli('cluster', 'create', 'flip', '--plan', 'business-1024', '--no-wait', '--json');
  if (created.code !== 0) throw new Error(created.stderr);
  clusterId = (JSON.parse(created.stdout) as { result: { clusterId: string } }).result.clusterId;
  await waitFor('the cluster to be ready', async () => (await view()).status === 'ready' || undefined, 180_000);
  const shown = await t.cli('cluster', 'show', 'flip', '--json');
  ({ nodes } = JSON.parse(shown.stdout) as Shown);
  url = await waitFor(
    'the URL',
    async () => {
      const r = await t.cli('cluster', 'url', 'flip');
      return r.code === 0 ? r.stdout.trim() : undefined;
    },
    60_000,
  );
  nc = await t.connectNats('e2e-switchover');
  events = new pg.Client({ connectionString: t.platform.eventstoreUrl });
  await events.connect();
});
afterAll(async () => {
  await events?.end().catch(() => undefined);
  await store?.close().catch(() => undefined);
  await nc?.drain().catch(() => undefined);
  await t?.cleanup();
});

describe('switchover as an operation: one at a time, never two primaries, resumed after a crash', () => {
  it(
    'two concurrent switchovers over NATS (to node2 and to node3): exactly one is accepted and succeeds, the other ' +
      'is rejected OPERATION_IN_PROGRESS naming it; exactly one node answers pg_is_in_recovery() = f; the gateway ' +
      'routes to it',
    async () => {
      const { leader: before, version_ } = await view();
      const watch = watchPrimaries();
      const replies = await Promise.all([switchover('node2'), switchover('node3')]);
      const accepted = replies.filter((r) => r.ok);
      const refused = replies.filter((r) => !r.ok);
      expect(accepted).toHaveLength(1);
      const operationId = operationIdOf(accepted[0]!);
      expect(refused).toEqual([
        expect.objectContaining({
          code: 'OPERATION_IN_PROGRESS',
          details: { operationId, kind: 'switchover' },
        }),
      ]);
      const op = await ended(operationId);
      const { most, samples, worst } = await watch.stop();
      expect(op.status, op.error).toBe('succeeded');
      const to = (op.params as { to: string }).to;
      expect(op.result).toEqual({ from: before, to, timeline: 2 });
      expect(most, `two primaries at once: ${worst.join(', ')}`).toBe(1);
      expect(samples).toBeGreaterThan(10);
      // One operation, one leader change: the refused request left no trace.
      const history = (await store.readStream(streamIds.cluster(clusterId))).events.slice(version_);
      expect(history.filter((e) => e.type === 'OperationRequested')).toHaveLength(1);
      expect(history.filter((e) => e.type === 'LeaderChanged')).toEqual([
        expect.objectContaining({ data: { from: before, to, reason: 'switchover', timeline: 2 } }),
      ]);
      expect(await exactlyOneLeaderBehindTheUrl()).toBe(to);
    },
  );

  it('the same commandId twice asks for one switchover only', async () => {
    const { leader } = await view();
    const to = nodes.map((n) => n.nodeId).find((n) => n !== leader)!;
    const commandId = `e2e-twice-${Date.now()}`;
    const [one, two] = await Promise.all([switchover(to, commandId), switchover(to, commandId)]);
    expect(operationIdOf(one!)).toBe(operationIdOf(two!));
    expect((await ended(operationIdOf(one!))).status).toBe('succeeded');
    expect(await exactlyOneLeaderBehindTheUrl()).toBe(to);
  });

  // Killed right after this is recorded, i.e. in the middle of the next step.
  const AFTER = [
    'OperationRequested',
    'check',
    'cascade',
    'fence',
    'caught-up',
    'promote',
    'record-leader',
    'repoint-followers',
    'old-leader-follows',
  ];
  it.each(AFTER)(
    'kill -9 of the provisioning service right after %s: after its restart the operation ends succeeded or failed, ' +
      'never two primaries meanwhile, exactly one primary (the recorded leader), the URL works',
    async (after) => {
      const { leader } = await view();
      const to = nodes.map((n) => n.nodeId).find((n) => n !== leader)!;
      const watch = watchPrimaries();
      const operationId = operationIdOf(await switchover(to));
      await waitFor(
        `${after} of ${operationId}`,
        async () => {
          return after === 'OperationRequested' || (await stepsRecorded(operationId)).includes(after) || undefined;
        },
        60_000,
      );
      const pid = t.platform.services().find((s) => s.name === 'provisioning')!.pid!;
      process.kill(pid, 'SIGKILL');
      const stepsAtKill = await stepsRecorded(operationId);
      await waitFor('a new provisioning process', () => {
        const now = t.platform.services().find((s) => s.name === 'provisioning')?.pid;
        return now && now !== pid ? now : undefined;
      });
      const op = await ended(operationId);
      const { most, samples, worst } = await watch.stop();
      console.log(
        `kill after ${after}: steps recorded at the kill [${stepsAtKill.join(', ')}]; ` +
          `ended ${op.status}${op.error ? ` at ${op.failedStep}: ${op.error}` : ''}; ` +
          `${samples} samples of the primaries`,
      );
      expect(['succeeded', 'failed']).toContain(op.status);
      expect(most, `two primaries at once: ${worst.join(', ')}`).toBe(1);
      const now = await exactlyOneLeaderBehindTheUrl();
      if (op.status === 'succeeded') expect(now).toBe(to);
      // The next switchover is not blocked by this one.
      expect((await view()).ops.running).toBeUndefined();
    },
  );
});
