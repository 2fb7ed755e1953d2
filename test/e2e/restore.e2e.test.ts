import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import type { NatsConnection } from '@nats-io/transport-node';
import { sendCommand } from '@pgfleet/bus';
import { findOperation, foldBackups, foldClusterView, streamIds, type CommandMeta } from '@pgfleet/contracts';
import { createPostgresEventStore, type EventStore } from '@pgfleet/eventstore';
import { liveProcesses, psql, startPlatform, waitFor, type TestPlatform } from './harness.js';

const PGBENCH = '/usr/lib/postgresql/15/bin/pgbench';

let t: TestPlatform;
let store: EventStore;
let nc: NatsConnection;
const meta = (commandId: string): CommandMeta => ({ actor: { kind: 'user', id: 'e2e-restore' }, commandId });

const json = async <T>(...args: string[]): Promise<T> => {
  const r = await t.cli(...args, '--json');
  if (r.code !== 0) throw new Error(`pgfleet ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
};

/** Every table of the public schema: its row count and an order-independent hash of its rows. */
function tableDigests(url: string): Record<string, string> {
  const tables = psql(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    .split('\n')
    .filter(Boolean);
  const digest = (name: string) =>
    psql(url, `SELECT count(*) || ' rows, hash ' || coalesce(sum(hashtext(t::text)::bigint), 0) FROM public.${name} t`);
  return Object.fromEntries(tables.map((name) => [name, digest(name)]));
}

/** Live pg_restore processes started by `parent` (the backup service runs the tool as its child). */
function pgRestoresOf(parent: number): number[] {
  return liveProcesses()
    .filter((p) => p.comm === 'pg_restore' && p.ppid === parent)
    .map((p) => p.pid);
}

const backupService = () => t.platform.services().find((s) => s.name === 'backup')!.pid!;
const operationOf = async (clusterId: string, operationId: string) =>
  findOperation(foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events).ops, operationId);
const restoreEventsOf = async (clusterId: string, operationId: string) =>
  (await store.readStream(streamIds.backups(clusterId))).events
    .filter((e) => 'operationId' in e.data && e.data.operationId === operationId)
    .map((e) => e.type);

beforeAll(async () => {
  t = await startPlatform();
  store = createPostgresEventStore({ connectionString: t.platform.eventstoreUrl });
  nc = await t.connectNats('e2e-restore');
});
afterAll(async () => {
  await nc?.close();
  await store?.close();
  await t?.cleanup();
});

describe('restore crash safety', () => {
  it(
    'kill -9 of the backup service while pg_restore runs an in-place restore: after its restart the operation ' +
      'ends, every table is wholly old or wholly new — never half — (here all restored) and the application ' +
      'logs in again',
    async () => {
      const created = await t.cli('cluster', 'create', 'vault', '--plan', 'starter-512');
      expect(created.code, created.stderr).toBe(0);
      const { clusterId } = await json<{ clusterId: string; status: string }>('cluster', 'show', 'vault');
      const { url } = await json<{ url: string }>('cluster', 'url', 'vault');
      const init = spawnSync(PGBENCH, ['-i', '-q', '-s', '10', url], { encoding: 'utf8' });
      expect(init.status, init.stderr).toBe(0);
      psql(
        url,
        `CREATE TABLE ledger (id int PRIMARY KEY, note text NOT NULL);
        INSERT INTO ledger SELECT g, 'entry ' || g FROM generate_series(1, 5000) g;
        INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) SELECT 1 + g % 100, 1 + g % 10, g, g, now()
          FROM generate_series(1, 1000) g;`,
      );

      // Back up over NATS (as the API does), and wait for the dump.
      const requested = await sendCommand(nc, 'backup', 'RequestBackup', { clusterId }, meta('e2e-backup-1'));
      expect(requested, JSON.stringify(requested)).toMatchObject({ ok: true });
      const backupId = String(requested.ok && requested.result?.backupId);
      await waitFor(
        'the backup to complete',
        async () => {
          const b = foldBackups((await store.readStream(streamIds.backups(clusterId))).events).backups.find(
            (x) => x.backupId === backupId,
          );
          if (b?.status === 'failed') throw new Error(`the backup failed: ${b.failedReason}`);
          return b?.status === 'completed' || undefined;
        },
        120_000,
      );
      const atBackup = tableDigests(url);
      expect(Object.keys(atBackup)).toEqual([
        'ledger',
        'pgbench_accounts',
        'pgbench_branches',
        'pgbench_history',
        'pgbench_tellers',
      ]);

      // Every table changes after the backup.
      psql(
        url,
        `UPDATE pgbench_accounts SET abalance = abalance + 7 WHERE aid % 2 = 0;
        UPDATE pgbench_branches SET bbalance = bbalance + 1;
        UPDATE pgbench_tellers SET tbalance = tbalance - 1;
        DELETE FROM pgbench_history WHERE aid % 3 = 0;
        INSERT INTO ledger SELECT g, 'late ' || g FROM generate_series(5001, 5100) g;`,
      );
      const changed = tableDigests(url);
      for (const table of Object.keys(atBackup)) expect(changed[table], table).not.toBe(atBackup[table]);

      // Restore in place over NATS: the reply is the operation, at once.
      const asked = await sendCommand(nc, 'backup', 'RestoreBackup', { clusterId, backupId }, meta('e2e-restore-1'));
      expect(asked, JSON.stringify(asked)).toMatchObject({
        ok: true,
        streamId: streamIds.cluster(clusterId),
        result: { kind: 'restore' },
      });
      const operationId = String(asked.ok && asked.result?.operationId);

      // While pg_restore runs: the restore is recorded as started and the application is fenced.
      const victim = backupService();
      await waitFor(
        'pg_restore to run',
        async () => {
          const op = await operationOf(clusterId, operationId);
          if (op && op.status !== 'running') throw new Error(`the restore ended (${op.status}) before the kill`);
          const started = (await restoreEventsOf(clusterId, operationId)).includes('BackupRestoreStarted');
          return (started && pgRestoresOf(victim).length > 0) || undefined;
        },
        120_000,
      );
      // Fenced: pg_restore runs as the owner `app` with a one-off password; the application's own is refused.
      expect(() => psql(url, 'SELECT 1')).toThrow(/password authentication failed for user "app"/);
      expect(pgRestoresOf(victim).length).toBeGreaterThan(0);
      process.kill(victim, 'SIGKILL');
      expect(await restoreEventsOf(clusterId, operationId)).toEqual(['BackupRestoreStarted']);

      // The supervisor restarts the service, which resumes the operation to its end.
      const ended = await waitFor(
        'the restore operation to end',
        async () => {
          const op = await operationOf(clusterId, operationId);
          return op && op.status !== 'running' ? op : undefined;
        },
        180_000,
      );
      expect(backupService()).not.toBe(victim);

      const after = tableDigests(url);
      expect(Object.keys(after)).toEqual(Object.keys(atBackup));
      for (const table of Object.keys(after)) expect([atBackup[table], changed[table]], table).toContain(after[table]);
      const wholly = Object.keys(after).every((table) => after[table] === atBackup[table])
        ? 'new'
        : Object.keys(after).every((table) => after[table] === changed[table])
          ? 'old'
          : 'half';
      expect(wholly).not.toBe('half');
      // A resumed restore runs again in one transaction: it ends restored.
      expect(ended).toMatchObject({ status: 'succeeded', result: { backupId, targetClusterId: clusterId } });
      expect(ended.steps.map((s) => s.step)).toEqual(['verify', 'fence', 'restore', 'unfence']);
      expect(wholly).toBe('new');
      expect(await restoreEventsOf(clusterId, operationId)).toEqual([
        'BackupRestoreStarted',
        'BackupRestoreStarted',
        'BackupRestoreCompleted',
      ]);
      expect(psql(url, 'SELECT count(*) FROM ledger')).toBe('5000');
      // The application owns what was restored and writes again.
      psql(url, "INSERT INTO ledger VALUES (9999, 'after the restore')");
    },
  );
});
