import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandReply } from '@pgfleet/contracts';
import { createPostgresEventStore, WrongExpectedVersion, type EventStore } from '@pgfleet/eventstore';
import { freePort, ownedTempDir, startLocalServer, type LocalServer } from '@pgfleet/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupCounter, type RequestBackup } from './backupCounter.fixture.js';
import { handleCommand } from './commandHandler.js';

let dir: string | undefined;
let server: LocalServer | undefined;
let store: EventStore | undefined;

beforeAll(async () => {
  dir = await ownedTempDir('pgfleet-kit-');
  server = await startLocalServer({ dataDir: join(dir, 'data'), port: await freePort() });
  store = createPostgresEventStore({ connectionString: server.url() });
});

afterAll(async () => {
  await store?.close().catch(() => {});
  await server?.stop('immediate').catch(() => {});
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * The real store, with the first `n` stream reads held until all `n` arrived: every command
 * then decides on the same version, so all but one must hit a version conflict and retry.
 */
function contended(real: EventStore, n: number) {
  let waiting = 0;
  let release!: () => void;
  const barrier = new Promise<void>((resolve) => (release = resolve));
  const stats = { conflicts: 0 };
  const wrapped: EventStore = {
    readStream: async (streamId, options) => {
      const read = await real.readStream(streamId, options);
      if (waiting < n) {
        if (++waiting === n) release();
        await barrier;
      }
      return read;
    },
    appendToStream: async (streamId, events, options) => {
      try {
        return await real.appendToStream(streamId, events, options);
      } catch (error) {
        if (error instanceof WrongExpectedVersion) stats.conflicts++;
        throw error;
      }
    },
    readAll: (options) => real.readAll(options),
    subscribe: (options) => real.subscribe(options),
    loadCheckpoint: (id) => real.loadCheckpoint(id),
    storeCheckpoint: (id, checkpoint) => real.storeCheckpoint(id, checkpoint),
    close: () => real.close(),
  };
  return { store: wrapped, stats };
}

const request = (clusterId: string, i: number, max: number): RequestBackup => ({ backupId: `b${i}`, clusterId, max });

function run(target: EventStore, clusterId: string, n: number, max: number): Promise<CommandReply[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      handleCommand({
        store: target,
        streamId: `backups-${clusterId}`,
        ...backupCounter,
        command: request(clusterId, i, max),
        meta: { correlationId: `corr-${i}`, commandId: `cmd-${i}`, actor: { kind: 'user', id: 'alice' } },
      }),
    ),
  );
}

describe('handleCommand against the PostgreSQL event store', () => {
  it('concurrent commands on one stream all succeed through retries on version conflicts', async () => {
    const { store: target, stats } = contended(store!, 6);
    const replies = await run(target, 'c1', 6, 100);
    expect(replies.every((r) => r.ok)).toBe(true);
    expect(replies.map((r) => (r.ok ? r.version : 0)).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(stats.conflicts).toBeGreaterThanOrEqual(5);

    const { events, currentVersion } = await store!.readStream('backups-c1');
    expect(currentVersion).toBe(6);
    expect(new Set(events.map((e) => (e.type === 'BackupRequested' ? e.data.backupId : '')))).toEqual(
      new Set(['b0', 'b1', 'b2', 'b3', 'b4', 'b5']),
    );
    for (const e of events) {
      const i = Number(e.type === 'BackupRequested' ? e.data.backupId.slice(1) : -1);
      expect([e.correlationId, e.causationId, e.actor]).toEqual([
        `corr-${i}`,
        `cmd-${i}`,
        { kind: 'user', id: 'alice' },
      ]);
    }
  });

  it("decisions see each other's effects: 8 concurrent requests against a limit of 5 never exceed it", async () => {
    const { store: target, stats } = contended(store!, 8);
    const replies = await run(target, 'c2', 8, 5);
    const accepted = replies.filter((r) => r.ok);
    const rejected = replies.filter((r) => !r.ok);
    expect(accepted).toHaveLength(5);
    expect(rejected.map((r) => (r.ok ? '' : r.code))).toEqual(['QUOTA_EXCEEDED', 'QUOTA_EXCEEDED', 'QUOTA_EXCEEDED']);
    expect(stats.conflicts).toBeGreaterThanOrEqual(4);
    const { currentVersion } = await store!.readStream('backups-c2');
    expect(currentVersion).toBe(5);
  });

  it('a rejected command appends nothing', async () => {
    const before = await store!.readAll({ limit: 10_000 });
    const reply = await handleCommand({
      store: store!,
      streamId: 'backups-c2',
      ...backupCounter,
      command: request('c2', 99, 5),
    });
    expect(reply).toEqual({
      ok: false,
      code: 'QUOTA_EXCEEDED',
      message: 'at most 5 backups for cluster c2',
      details: { field: 'clusterId', limit: 5, used: 5 },
    });
    expect((await store!.readStream('backups-c2')).currentVersion).toBe(5);
    expect((await store!.readAll({ limit: 10_000 })).events).toHaveLength(before.events.length);
  });
});
