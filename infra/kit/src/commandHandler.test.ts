import { describe, expect, it } from 'vitest';
import { backupCounter, requested } from './backupCounter.fixture.js';
import { handleCommand } from './commandHandler.js';
import { memoryStore } from './memoryStore.fixture.js';

const actor = { kind: 'user', id: 'alice' } as const;

describe('handleCommand (in-memory store)', () => {
  it('appends the decided events with expected version no_stream on a new stream, with its metadata', async () => {
    const mem = memoryStore();
    const reply = await handleCommand({
      store: mem.store,
      streamId: 'backups-c1',
      ...backupCounter,
      command: { backupId: 'b1', clusterId: 'c1', max: 5 },
      meta: { correlationId: 'corr-1', commandId: 'cmd-1', actor },
    });
    expect(reply).toEqual({ ok: true, streamId: 'backups-c1', version: 1 });
    expect(mem.appends).toEqual([{ streamId: 'backups-c1', expectedVersion: 'no_stream' }]);
    expect(mem.events('backups-c1')).toMatchObject([
      { ...requested('b1'), correlationId: 'corr-1', causationId: 'cmd-1', actor },
    ]);
  });

  it('then appends at the exact version it read', async () => {
    const mem = memoryStore();
    mem.sneakIn('backups-c1', requested('b0'));
    const reply = await handleCommand({
      store: mem.store,
      streamId: 'backups-c1',
      ...backupCounter,
      command: { backupId: 'b1', clusterId: 'c1', max: 5 },
    });
    expect(reply).toEqual({ ok: true, streamId: 'backups-c1', version: 2 });
    expect(mem.appends.map((a) => a.expectedVersion)).toEqual([1]);
  });

  it('a rejection is replied with code, message and details, and appends nothing', async () => {
    const mem = memoryStore();
    mem.sneakIn('backups-c1', requested('b0'));
    const reply = await handleCommand({
      store: mem.store,
      streamId: 'backups-c1',
      ...backupCounter,
      command: { backupId: 'b1', clusterId: 'c1', max: 1 },
    });
    expect(reply).toEqual({
      ok: false,
      code: 'QUOTA_EXCEEDED',
      message: 'at most 1 backups for cluster c1',
      details: { field: 'clusterId', limit: 1, used: 1 },
    });
    expect(mem.appends).toEqual([]);
    expect(mem.events('backups-c1')).toHaveLength(1);
  });

  it('a decision with no events is accepted at the current version without appending', async () => {
    const mem = memoryStore();
    mem.sneakIn('backups-c1', requested('b1'));
    const reply = await handleCommand({
      store: mem.store,
      streamId: 'backups-c1',
      ...backupCounter,
      command: { backupId: 'b1', clusterId: 'c1', max: 5 },
    });
    expect(reply).toEqual({ ok: true, streamId: 'backups-c1', version: 1 });
    expect(mem.appends).toEqual([]);
  });

  it('on a version conflict it reloads and decides again on the new state', async () => {
    let interfere = 1;
    const mem = memoryStore({ beforeAppend: (s) => interfere-- > 0 && mem.sneakIn(s, requested('other')) });
    const reply = await handleCommand({
      store: mem.store,
      streamId: 'backups-c1',
      ...backupCounter,
      command: { backupId: 'b1', clusterId: 'c1', max: 2 },
    });
    expect(reply).toEqual({ ok: true, streamId: 'backups-c1', version: 2 });
    expect(mem.appends.map((a) => a.expectedVersion)).toEqual(['no_stream', 1]);

    let again = 1;
    const full = memoryStore({ beforeAppend: (s) => again-- > 0 && full.sneakIn(s, requested('other')) });
    const rejected = await handleCommand({
      store: full.store,
      streamId: 'backups-c1',
      ...backupCounter,
      command: { backupId: 'b1', clusterId: 'c1', max: 1 },
    });
    expect(rejected).toMatchObject({ ok: false, code: 'QUOTA_EXCEEDED' });
  });

  it('gives up after maxRetries conflicts with a CONCURRENCY_CONFLICT reply', async () => {
    let n = 0;
    const mem = memoryStore({ beforeAppend: (s) => mem.sneakIn(s, requested(`other-${n++}`)) });
    const reply = await handleCommand({
      store: mem.store,
      streamId: 'backups-c1',
      ...backupCounter,
      command: { backupId: 'b1', clusterId: 'c1', max: 100 },
      maxRetries: 2,
    });
    expect(reply).toMatchObject({
      ok: false,
      code: 'CONCURRENCY_CONFLICT',
      details: { streamId: 'backups-c1', attempts: 3 },
    });
    expect(mem.appends).toHaveLength(3);
  });

  it('throws errors that are not conflicts (lost infrastructure)', async () => {
    const mem = memoryStore({
      beforeAppend: () => {
        throw new Error('connection terminated');
      },
    });
    await expect(
      handleCommand({
        store: mem.store,
        streamId: 'backups-c1',
        ...backupCounter,
        command: { backupId: 'b1', clusterId: 'c1', max: 5 },
      }),
    ).rejects.toThrow('connection terminated');
  });
});
