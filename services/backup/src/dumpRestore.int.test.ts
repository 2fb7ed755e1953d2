import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamIds, type EventEnvelope } from '@pgfleet/contracts';
import { requestBackup } from './commands.js';
import { findBackup } from './domain/backups.js';
import { sql, startBackupWorld, type BackupWorld } from './testing/cluster.fixture.js';
import type { BackupStore } from '@pgfleet/backupstore';
import type { NodeInfo, NodeRuntime, ToolProcess } from '@pgfleet/runtime';
import { processBackups } from './workers/processBackups.js';
import { loadBackups } from './workers/record.js';
import { restoreAndWait } from './testing/restore.fixture.js';
import { INTERRUPTED, resumeBackups } from './workers/resume.js';
import { runDump } from './workers/runDump.js';

let w: BackupWorld;
const CLUSTER = 'biz1';
const meta = { actor: { kind: 'user', id: 'tester' } } as const;

async function backupEvents(clusterId = CLUSTER) {
  return (await w.store.readStream(streamIds.backups(clusterId))).events;
}
const backupIdOf = (e: EventEnvelope) => ('backupId' in e.data ? e.data.backupId : undefined);
/** The types of the events about one backup, in order. */
const historyOf = async (backupId: string) =>
  (await backupEvents()).filter((e) => backupIdOf(e) === backupId).map((e) => e.type);
async function checksums(conn: ReturnType<BackupWorld['superuser']>) {
  const out: Record<string, unknown> = {};
  for (const t of ['items', 'orders']) {
    const digest = `SELECT count(*)::int AS n, md5(string_agg(x::text, ',' ORDER BY id)) AS sum FROM ${t} x`;
    out[t] = (await sql(conn, digest))[0];
  }
  return out;
}
async function requestAndProcess(clusterId = CLUSTER) {
  const reply = await requestBackup(w.deps, { clusterId }, meta);
  if (!reply.ok) throw new Error(reply.message);
  const backupId = reply.result!.backupId as string;
  return { backupId, outcomes: await processBackups(w.deps, clusterId) };
}

/** The users the node's log shows `application` logging in as (log_connections). */
function connectionsLogged(node: NodeInfo, application: string): string[] {
  const log = readFileSync(join(node.dataDir, 'log', 'postgresql.log'), 'utf8');
  const authorized = /connection authorized: user=(\S+) database=\S+ application_name=(\S+)/g;
  return [...new Set([...log.matchAll(authorized)].filter((m) => m[2] === application).map((m) => m[1]!))];
}

beforeAll(async () => {
  w = await startBackupWorld({ follower: true });
  for (const node of [w.leader, w.follower!]) {
    await sql(w.superuser(node), 'ALTER SYSTEM SET log_connections = on');
    await sql(w.superuser(node), 'SELECT pg_reload_conf()');
  }
  await w.writeCluster(CLUSTER, 'business-1024', [w.leader, w.follower!]);
  const app = w.superuser(w.leader, 'app');
  await sql(
    app,
    `SET ROLE app;
    CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2), tags text[]);
    INSERT INTO items SELECT g, 'item ' || g, g * 1.25, ARRAY['t' || (g % 7)] FROM generate_series(1, 20000) g;
    CREATE TABLE orders (id bigserial PRIMARY KEY, item int REFERENCES items, at timestamptz DEFAULT '2025-01-01',
      note jsonb);
    INSERT INTO orders (item, note)
      SELECT (g % 20000) + 1, jsonb_build_object('n', g) FROM generate_series(1, 5000) g;`,
  );
  // The follower has replayed everything before we dump it.
  for (let i = 0; ; i++) {
    const rows = await sql<{ n: number }>(
      w.superuser(w.follower!, 'app'),
      'SELECT count(*)::int AS n FROM orders',
    ).catch(() => [{ n: 0 }]);
    if (rows[0]!.n === 5000) break;
    if (i > 600) throw new Error('follower did not replay');
    await new Promise((r) => setTimeout(r, 50));
  }
});
afterAll(async () => {
  await w?.close();
});

describe('backups of a Business cluster', () => {
  it(
    'dumps on the follower (recorded node) and restores into a fresh cluster ' + 'with identical rows and checksums',
    async () => {
      const { backupId, outcomes } = await requestAndProcess();
      expect(outcomes).toMatchObject([{ status: 'completed', backupId, node: 'node2' }]);
      // pg_dump logged in as the database's owner, not as the superuser.
      expect(connectionsLogged(w.follower!, 'pg_dump')).toEqual(['app']);
      const events = await backupEvents();
      expect(events.map((e) => e.type)).toEqual(['BackupRequested', 'BackupStarted', 'BackupCompleted']);
      expect(events[1]!.data).toEqual({ backupId, node: 'node2' });
      const backup = findBackup(await loadBackups(w.store, CLUSTER), backupId)!;
      expect(backup).toMatchObject({ status: 'completed', node: 'node2' });
      expect(backup.size).toBeGreaterThan(0);
      expect(await w.deps.files.list(CLUSTER)).toEqual([backupId]);

      const target = await w.freshNode('fx-restore1');
      await sql(w.superuser(target), 'ALTER SYSTEM SET log_connections = on');
      await sql(w.superuser(target), 'SELECT pg_reload_conf()');
      await w.writeCluster('restored1', 'business-1024', [target], 'restored-db');
      const restore = { clusterId: CLUSTER, backupId, targetClusterId: 'restored1' };
      const result = await restoreAndWait(w.deps, restore);
      expect(result).toMatchObject({ ended: 'succeeded', clusterId: 'restored1' });
      expect(result.operation.result).toMatchObject({ backupId, clusterId: CLUSTER, targetClusterId: 'restored1' });
      const source = await checksums(w.superuser(w.leader, 'app'));
      expect(source.items).toMatchObject({ n: 20000 });
      expect(await checksums(w.superuser(target, 'app'))).toEqual(source);
      // --no-owner with the app role: the application owns what was restored.
      const owner = "SELECT tableowner FROM pg_tables WHERE tablename = 'items'";
      expect(await sql(w.superuser(target, 'app'), owner)).toEqual([{ tableowner: 'app' }]);
      expect(connectionsLogged(target, 'pg_restore')).toEqual(['app']);
      // Restoring again over the data (--clean --if-exists) is fine.
      expect(await restoreAndWait(w.deps, restore)).toMatchObject({ ended: 'succeeded' });
      expect(await checksums(w.superuser(target, 'app'))).toEqual(source);
    },
  );

  it('refuses to restore a file that no longer matches its sha256', async () => {
    const { backupId } = await requestAndProcess();
    writeFileSync(w.deps.files.pathOf(CLUSTER, backupId), 'tampered');
    const restore = { clusterId: CLUSTER, backupId, targetClusterId: 'restored1' };
    expect((await restoreAndWait(w.deps, restore)).operation).toMatchObject({
      status: 'failed',
      failedStep: 'verify',
      error: `backup ${backupId} does not match its recorded sha256; nothing was restored`,
    });
  });

  it('dumps on the leader and records why when no follower is healthy', async () => {
    await w.runtime.stop(w.follower!.nodeId);
    try {
      const { backupId, outcomes } = await requestAndProcess();
      expect(outcomes).toMatchObject([{ status: 'completed', node: 'node1' }]);
      const started = (await backupEvents()).find((e) => e.type === 'BackupStarted' && e.data.backupId === backupId)!;
      const onLeaderReason = 'no healthy follower: node2 is not running';
      expect(started.data).toEqual({ backupId, node: 'node1', onLeaderReason });
    } finally {
      await w.runtime.start(w.follower!.nodeId);
    }
  });

  it('fails without BackupStarted when no node answers, and kills the pg_dump it started early', async () => {
    const reply = await requestBackup(w.deps, { clusterId: CLUSTER }, meta);
    const backupId = reply.ok ? (reply.result!.backupId as string) : '';
    const tools: ToolProcess[] = [];
    const runTool: NodeRuntime['runTool'] = (...args) => {
      const tool = w.deps.runtime.runTool(...args);
      tools.push(tool);
      return tool;
    };
    const runtime = new Proxy(w.deps.runtime, { get: (t, p) => (p === 'runTool' ? runTool : Reflect.get(t, p)) });
    const outcome = await runDump({ ...w.deps, runtime }, CLUSTER, backupId, { probe: async () => 'down' });
    expect(outcome).toEqual({ status: 'failed', backupId, reason: 'no node of the cluster is running' });
    expect(await historyOf(backupId)).toEqual(['BackupRequested', 'BackupFailed']);
    expect(await w.deps.files.exists(CLUSTER, backupId)).toBe(false);
    // Its output (larger than a pipe holds) was never read: it ends only because it was killed.
    expect(tools).toHaveLength(1);
    await Promise.all(tools.map((tool) => tool.done.catch(() => undefined)));
  });

  it('never runs a second dump for the same request, even with two workers racing', async () => {
    const reply = await requestBackup(w.deps, { clusterId: CLUSTER }, meta);
    const backupId = reply.ok ? (reply.result!.backupId as string) : '';
    const results = await Promise.all([runDump(w.deps, CLUSTER, backupId), runDump(w.deps, CLUSTER, backupId)]);
    expect(results.map((r) => r.status).sort()).toEqual(['completed', 'skipped']);
    const mine = await historyOf(backupId);
    expect(mine).toEqual(['BackupRequested', 'BackupStarted', 'BackupCompleted']);
  });

  it('one Idempotency-Key (commandId) sent twice makes one backup; a new key makes a second', async () => {
    const once = { ...meta, commandId: 'idempotency-key-1' };
    // Twice at once, then once more after the dump: one backup, the same id in every reply.
    const replies = await Promise.all([1, 2].map(() => requestBackup(w.deps, { clusterId: CLUSTER }, once)));
    const idOf = (r: (typeof replies)[number]) => (r.ok ? r.result?.backupId : r.code);
    const backupId = idOf(replies[0]!) as string;
    expect(backupId).toMatch(/^b-[0-9a-f]{40}$/);
    expect(idOf(replies[1]!)).toBe(backupId);
    expect(await processBackups(w.deps, CLUSTER)).toMatchObject([{ status: 'completed', backupId }]);
    expect(idOf(await requestBackup(w.deps, { clusterId: CLUSTER }, once))).toBe(backupId);
    expect(await processBackups(w.deps, CLUSTER)).toEqual([]);
    expect(await historyOf(backupId)).toEqual(['BackupRequested', 'BackupStarted', 'BackupCompleted']);

    const other = await requestBackup(w.deps, { clusterId: CLUSTER }, { ...meta, commandId: 'idempotency-key-2' });
    const secondId = idOf(other) as string;
    expect(secondId).toMatch(/^b-[0-9a-f]{40}$/);
    expect(secondId).not.toBe(backupId);
    expect(await processBackups(w.deps, CLUSTER)).toMatchObject([{ status: 'completed', backupId: secondId }]);
    const requested = (await backupEvents()).filter((e) => e.type === 'BackupRequested').map(backupIdOf);
    expect(requested.filter((id) => id === backupId || id === secondId)).toEqual([backupId, secondId]);
  });

  it(
    'after a crash mid-dump, resume marks the backup failed, removes the partial file ' + 'and never dumps it again',
    async () => {
      const reply = await requestBackup(w.deps, { clusterId: CLUSTER }, meta);
      const backupId = reply.ok ? (reply.result!.backupId as string) : '';
      // The "crash": the worker is aborted once pg_dump wrote the dump, before its file is made the backup's.
      const crash = new AbortController();
      const files: BackupStore = {
        ...w.deps.files,
        begin: async (c, b) => {
          const partial = await w.deps.files.begin(c, b);
          return {
            ...partial,
            fd: partial.fd,
            finish: async () => {
              expect(await partial.bytes()).toBeGreaterThan(0);
              crash.abort();
              throw crash.signal.reason;
            },
          };
        },
      };
      await expect(runDump({ ...w.deps, files }, CLUSTER, backupId, { signal: crash.signal })).rejects.toThrow(
        /abort/i,
      );
      expect(findBackup(await loadBackups(w.store, CLUSTER), backupId)!.status).toBe('running');
      // What a kill -9 leaves behind: a partial file.
      const partial = `${w.deps.files.pathOf(CLUSTER, backupId)}.partial`;
      writeFileSync(partial, 'half a dump');

      const resumed = await resumeBackups(w.deps, CLUSTER);
      expect(resumed.interrupted).toEqual([backupId]);
      expect(resumed.outcomes).toEqual([]);
      expect(await w.deps.files.exists(CLUSTER, backupId)).toBe(false);
      expect(await w.deps.files.list(CLUSTER)).not.toContain(backupId);
      const { existsSync } = await import('node:fs');
      expect(existsSync(partial)).toBe(false);
      expect(findBackup(await loadBackups(w.store, CLUSTER), backupId)).toMatchObject({
        status: 'failed',
        failedReason: INTERRUPTED,
      });

      // Resuming again, or a late worker, changes nothing: one start, one failure, no completion.
      await resumeBackups(w.deps, CLUSTER);
      expect(await runDump(w.deps, CLUSTER, backupId)).toEqual({ status: 'skipped', backupId });
      const mine = await historyOf(backupId);
      expect(mine).toEqual(['BackupRequested', 'BackupStarted', 'BackupFailed']);
    },
  );

  it('resume takes a backup requested but never started before the crash', async () => {
    const reply = await requestBackup(w.deps, { clusterId: CLUSTER }, meta);
    const backupId = reply.ok ? (reply.result!.backupId as string) : '';
    const resumed = await resumeBackups(w.deps, CLUSTER);
    expect(resumed).toMatchObject({ interrupted: [], outcomes: [{ status: 'completed', backupId }] });
    expect(await w.deps.files.exists(CLUSTER, backupId)).toBe(true);
  });
});
