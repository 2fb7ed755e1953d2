import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamIds, type EventEnvelope } from '@pgfleet/contracts';
import { requestBackup } from './commands.js';
import { startBackupWorld, type BackupWorld } from './testing/cluster.fixture.js';
import { applyPlanQuota } from './workers/planQuota.js';
import { processBackups } from './workers/processBackups.js';
import { loadBackups } from './workers/record.js';

/** A plan change applied to the backups a cluster has, on a real event store and real pg_dump files. */

let w: BackupWorld;
const C = 'pq1';
const meta = { actor: { kind: 'user', id: 'tester' } } as const;
const backupEvents = async () => (await w.store.readStream(streamIds.backups(C))).events;

/** Record ClusterPlanChanged on the cluster's stream as the plan-change operation `operationId` does. */
async function planChanged(from: string, to: string, operationId: string): Promise<EventEnvelope> {
  const stream = streamIds.cluster(C);
  const { currentVersion } = await w.store.readStream(stream);
  const appended = await w.store.appendToStream(
    stream,
    [{ type: 'ClusterPlanChanged', data: { from, to }, correlationId: operationId }],
    { expectedVersion: currentVersion },
  );
  return appended.events[0]!;
}

beforeAll(async () => {
  w = await startBackupWorld({ follower: false });
  await w.writeCluster(C, 'business-1024', [w.leader]);
});
afterAll(async () => {
  await w?.close();
});

describe('a plan change that keeps fewer on-demand backups', () => {
  const made: string[] = [];

  it('Business -> Starter with 12: QuotaExceeded, the 2 oldest evicted, their files gone; the rest stay', async () => {
    for (let i = 0; i < 12; i++) {
      const reply = await requestBackup(w.deps, { clusterId: C }, meta);
      if (!reply.ok) throw new Error(reply.message);
      made.push(reply.result!.backupId as string);
    }
    await processBackups(w.deps, C);
    const before = (await backupEvents()).length;

    const change = await planChanged('business-1024', 'starter-512', 'op-down');
    expect(await applyPlanQuota(w.deps, C, change)).toEqual(made.slice(0, 2));
    const appended = (await backupEvents()).slice(before);
    expect(appended.map((e) => [e.type, e.data, e.correlationId, e.causationId])).toEqual([
      ['QuotaExceeded', { clusterId: C, quota: 'backups.manual.total', limit: 10, used: 12 }, 'op-down', change.id],
      ['BackupEvicted', { clusterId: C, backupId: made[0] }, 'op-down', change.id],
      ['BackupEvicted', { clusterId: C, backupId: made[1] }, 'op-down', change.id],
    ]);
    await processBackups(w.deps, C);
    expect(await w.deps.files.list(C)).toEqual(made.slice(2).sort());
    const kept = (await loadBackups(w.store, C)).backups.filter((b) => b.status === 'completed');
    expect(kept.map((b) => b.backupId)).toEqual(made.slice(2));
  });

  it('the same ClusterPlanChanged delivered again records nothing (idempotent by event id)', async () => {
    const { events } = await w.store.readStream(streamIds.cluster(C));
    const change = events.findLast((e) => e.type === 'ClusterPlanChanged')!;
    const before = (await backupEvents()).length;
    expect(await applyPlanQuota(w.deps, C, change)).toEqual([]);
    expect((await backupEvents()).length).toBe(before);
  });

  it('a change handled late, after a change back to a bigger plan, evicts nothing (the plan in force)', async () => {
    const toSandbox = await planChanged('starter-512', 'sandbox', 'op-sandbox');
    await planChanged('sandbox', 'business-1024', 'op-up');
    const before = (await backupEvents()).length;
    expect(await applyPlanQuota(w.deps, C, toSandbox)).toEqual([]);
    expect((await backupEvents()).length).toBe(before);
    expect(await w.deps.files.list(C)).toHaveLength(10);
  });
});
