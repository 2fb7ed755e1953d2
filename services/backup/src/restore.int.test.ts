import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import type { BackupStore } from '@pgfleet/backupstore';
import { connectBus, serveCommands, startNatsServer, type CommandServer, type NatsServerHandle } from '@pgfleet/bus';
import { foldClusterView, streamIds, type CommandReply, type EventEnvelope } from '@pgfleet/contracts';
import { executeOperation, loadOperation } from '@pgfleet/kit';
import { freePort, withClient } from '@pgfleet/postgres';
import type { NodeInfo, NodeRuntime, ToolProcess } from '@pgfleet/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestBackup } from './commands.js';
import { createTargetCluster, type Bus } from './operations/newCluster.js';
import { restoreOperation, type RestoreOperationDeps } from './operations/restore.js';
import { requestRestore } from './operations/requestRestore.js';
import { sql, startBackupWorld, type BackupWorld } from './testing/cluster.fixture.js';
import { restoreAndWait } from './testing/restore.fixture.js';
import { processBackups } from './workers/processBackups.js';

let w: BackupWorld;
let nats: NatsServerHandle;
let nc: Bus;
let deps: RestoreOperationDeps;
const SHOP = 'shop1';
const APP_PASSWORD = 'app-password-for-tests';
const TABLES = ['accounts', 'branches', 'history'];
const meta = { actor: { kind: 'user', id: 'tester' } } as const;

/** Every table's row count and a checksum of its whole content, read as the superuser. */
async function digests(node = w.leader): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of TABLES) {
    const q = `SELECT count(*) || ' rows, md5 ' || coalesce(md5(string_agg(x::text, ',' ORDER BY id)), '-') AS d
      FROM ${t} x`;
    out[t] = (await sql<{ d: string }>(w.superuser(node, 'app'), q))[0]!.d;
  }
  return out;
}
/** The application's own login over TCP (what the gateway forwards). */
const asApp = (node = w.leader) => ({
  host: '127.0.0.1',
  port: node.port,
  user: 'app',
  password: APP_PASSWORD,
  database: 'app',
});
/** true, or why the application cannot log in. */
const appLogin = (node = w.leader) =>
  withClient(asApp(node), async (q) => (await q.query('SELECT 1')).rowCount === 1).catch((e: Error) => e.message);
const canLogin = async (node = w.leader) =>
  (await sql<{ l: boolean }>(w.superuser(node), "SELECT rolcanlogin AS l FROM pg_roles WHERE rolname = 'app'"))[0]!.l;

async function backupNow(clusterId = SHOP): Promise<string> {
  const reply = await requestBackup(w.deps, { clusterId }, meta);
  if (!reply.ok) throw new Error(reply.message);
  const [outcome] = await processBackups(w.deps, clusterId);
  if (outcome?.status !== 'completed') throw new Error(`backup not completed: ${JSON.stringify(outcome)}`);
  return outcome.backupId;
}
/** Change every table after the backup, so old and new data differ everywhere. */
async function changeData() {
  const before = await digests();
  await sql(
    w.superuser(w.leader, 'app'),
    `UPDATE accounts SET balance = balance + 1 WHERE id % 3 = 0;
    DELETE FROM accounts WHERE id IN (SELECT id FROM accounts ORDER BY id DESC LIMIT 100);
    UPDATE branches SET balance = balance + 100;
    INSERT INTO history (id, account, delta) SELECT m + g, g, -g FROM (SELECT max(id) AS m FROM history) h,
      generate_series(1, 500) g;`,
  );
  const after = await digests();
  for (const t of TABLES) expect(after[t], t).not.toBe(before[t]);
}
/** The backups-stream events of one restore operation. */
async function restoreEvents(operationId: string, clusterId = SHOP): Promise<EventEnvelope[]> {
  const { events } = await w.store.readStream(streamIds.backups(clusterId));
  return events.filter((e) => 'operationId' in e.data && e.data.operationId === operationId);
}
type ToolOptions = Parameters<NodeRuntime['runTool']>[3] & {};
/** The runtime, with pg_restore started by `start` (`run` runs the real one), or as usual when it returns nothing. */
function hookPgRestore(
  start: (options: ToolOptions, run: (options: ToolOptions) => ToolProcess) => ToolProcess | undefined,
): NodeRuntime {
  const runtime = w.deps.runtime;
  return new Proxy(runtime, {
    get(target, key, receiver) {
      if (key !== 'runTool') return Reflect.get(target, key, receiver);
      const runTool: NodeRuntime['runTool'] = (id, tool, args, options = {}) => {
        const run = (o: ToolOptions) => runtime.runTool(id, tool, args, o);
        return (tool === 'pg_restore' ? start(options, run) : undefined) ?? run(options);
      };
      return runTool;
    },
  });
}
/** Only the first `limit` bytes of a stream go through (the rest is read and dropped). */
function firstBytes(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const room = limit - seen;
      seen += chunk.length;
      done(null, room <= 0 ? undefined : chunk.subarray(0, room));
    },
  });
}

/** The users the node's log shows `application` logging in as (log_connections). */
function connectionsLogged(node: NodeInfo, application: string): string[] {
  const log = readFileSync(join(node.dataDir, 'log', 'postgresql.log'), 'utf8');
  const authorized = /connection authorized: user=(\S+) database=\S+ application_name=(\S+)/g;
  return [...new Set([...log.matchAll(authorized)].filter((m) => m[2] === application).map((m) => m[1]!))];
}

beforeAll(async () => {
  w = await startBackupWorld({ follower: false, appPassword: APP_PASSWORD });
  await w.writeCluster(SHOP, 'starter-512', [w.leader], 'shop');
  await sql(w.superuser(w.leader), 'ALTER SYSTEM SET log_connections = on');
  await sql(w.superuser(w.leader), 'SELECT pg_reload_conf()');
  await sql(
    w.superuser(w.leader, 'app'),
    `SET ROLE app;
    CREATE TABLE branches (id int PRIMARY KEY, balance bigint NOT NULL);
    CREATE TABLE accounts (id int PRIMARY KEY, branch int REFERENCES branches, balance bigint, filler text);
    CREATE TABLE history (id int PRIMARY KEY, account int, delta int);
    INSERT INTO branches SELECT g, 0 FROM generate_series(1, 10) g;
    INSERT INTO accounts SELECT g, 1 + g % 10, 0, md5(g::text) FROM generate_series(1, 200000) g;
    INSERT INTO history SELECT g, g, g FROM generate_series(1, 1000) g;`,
  );
  nats = await startNatsServer({ port: await freePort(), storeDir: join(w.dir, 'nats') });
  nc = await connectBus({ servers: nats.url, name: 'backup-restore-test' });
  deps = { ...w.deps, nc, targetReadyTimeoutMs: 60_000, unfenceRetryMs: 5000 };
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
  await w?.close();
});

describe('RestoreBackup asks for a restore operation', () => {
  it('answers at once with the operation (OperationRequested); the same commandId asks for it once', async () => {
    const backupId = await backupNow();
    const once = { ...meta, commandId: 'restore-key-1' };
    const reply = await requestRestore(w.deps, { clusterId: SHOP, backupId }, once);
    expect(reply).toMatchObject({ ok: true, streamId: streamIds.cluster(SHOP), result: { kind: 'restore' } });
    const operationId = reply.ok ? String(reply.result?.operationId) : '';
    expect(await requestRestore(w.deps, { clusterId: SHOP, backupId }, once)).toMatchObject({
      ok: true,
      result: { operationId },
    });
    const other = await requestRestore(w.deps, { clusterId: SHOP, backupId }, { ...meta, commandId: 'restore-key-2' });
    expect(other).toMatchObject({ ok: false, code: 'OPERATION_IN_PROGRESS', details: { operationId } });
    const view = foldClusterView((await w.store.readStream(streamIds.cluster(SHOP))).events);
    expect(view.ops.operations).toMatchObject([
      { operationId, kind: 'restore', params: { backupId }, status: 'running', steps: [] },
    ]);
    // Nothing ran yet: no restore event, the application still logs in. Run it out of the way.
    expect(await restoreEvents(operationId)).toEqual([]);
    expect(await executeOperation(deps, SHOP, operationId, restoreOperation(deps))).toBe('succeeded');
  });

  it('refuses an unknown backup, an unknown or unready target and two targets at once, in one sentence', async () => {
    const backupId = await backupNow();
    const ask = (cmd: Parameters<typeof requestRestore>[1]) => requestRestore(w.deps, cmd, meta);
    expect(await ask({ clusterId: SHOP, backupId: 'nope' })).toMatchObject({
      ok: false,
      code: 'BACKUP_NOT_FOUND',
      message: 'cluster shop has no backup nope',
    });
    expect(await ask({ clusterId: 'ghost', backupId })).toMatchObject({ ok: false, code: 'CLUSTER_NOT_FOUND' });
    expect(await ask({ clusterId: SHOP, backupId, targetClusterId: 'ghost' })).toMatchObject({
      ok: false,
      code: 'CLUSTER_NOT_READY',
      details: { field: 'targetClusterId' },
    });
    expect(await ask({ clusterId: SHOP, backupId, targetClusterId: 'x', into: { name: 'copy' } })).toMatchObject({
      ok: false,
      code: 'VALIDATION_FAILED',
    });
  });
});

describe('restore in place', () => {
  it(
    'runs verify, fence, restore, unfence: the application is fenced while pg_restore runs, ' +
      'the data is the backup again, BackupRestoreStarted/Completed are recorded',
    async () => {
      const backupId = await backupNow();
      const atBackup = await digests();
      await changeData();
      expect(await digests()).not.toEqual(atBackup);

      // An application session open before the restore is ended by the fence (its transaction rolls back).
      const openSession = withClient(asApp(), (q) => q.query('SELECT pg_sleep(60)')).then(
        () => 'still open',
        (e: Error) => e.message,
      );
      await new Promise((r) => setTimeout(r, 300));
      let duringRestore: Promise<[boolean, boolean | string]> | undefined;
      const runtime = hookPgRestore(() => {
        duringRestore = Promise.all([canLogin(), appLogin()]);
        return undefined;
      });
      const run = await restoreAndWait({ ...deps, runtime }, { clusterId: SHOP, backupId });

      expect(run.ended).toBe('succeeded');
      expect(run.operation.steps.map((s) => s.step)).toEqual(['verify', 'fence', 'restore', 'unfence']);
      expect(run.operation.result).toMatchObject({
        backupId,
        clusterId: SHOP,
        targetClusterId: SHOP,
        targetName: 'shop',
        node: 'node1',
      });
      expect(run.operation.result?.durationMs).toBeGreaterThan(0);
      expect(await openSession).toMatch(/terminating connection due to administrator command/);
      // pg_restore logs in as the owner with a one-off password: the application's own is refused meanwhile.
      const [admitted, refused] = (await duringRestore)!;
      expect(admitted).toBe(true);
      expect(refused).toMatch(/password authentication failed for user "app"/);
      expect(connectionsLogged(w.leader, 'pg_restore')).toEqual(['app']);

      expect(await digests()).toEqual(atBackup);
      expect(await canLogin()).toBe(true);
      expect(await appLogin()).toBe(true);
      const events = await restoreEvents(run.operationId);
      expect(events.map((e) => e.type)).toEqual(['BackupRestoreStarted', 'BackupRestoreCompleted']);
      expect(events[0]!.data).toEqual({ backupId, operationId: run.operationId, targetClusterId: SHOP, node: 'node1' });
      expect(events.every((e) => e.correlationId === run.operationId)).toBe(true);
      // The application owns what was restored and writes again.
      await withClient(asApp(), (q) => q.query('INSERT INTO history (id, account, delta) VALUES (999999, 1, 1)'));
    },
  );

  it(
    'a pg_restore that fails half-way (its input cut at 60%) leaves every table as it was: ' +
      'BackupRestoreFailed, unfenced, OperationFailed at restore',
    async () => {
      const backupId = await backupNow();
      await changeData();
      const before = await digests();
      const size = await sizeOf(backupId);
      let opened = 0;
      const files: BackupStore = {
        ...w.deps.files,
        // The first read is verify's (whole); pg_restore's is cut.
        open: (clusterId, id) => {
          const whole = w.deps.files.open(clusterId, id);
          if (++opened === 1) return whole;
          const cut = firstBytes(Math.floor(size * 0.6));
          cut.on('close', () => whole.destroy());
          return whole.pipe(cut);
        },
      };
      const run = await restoreAndWait({ ...deps, files }, { clusterId: SHOP, backupId });

      expect(run.ended).toBe('failed');
      expect(run.operation).toMatchObject({ status: 'failed', failedStep: 'restore' });
      expect(run.operation.error).toMatch(/was not restored, the old data is kept: pg_restore failed/);
      expect(run.operation.steps.map((s) => s.step)).toEqual(['verify', 'fence', 'unfence']);
      expect(await digests()).toEqual(before);
      expect(await appLogin()).toBe(true);
      const events = await restoreEvents(run.operationId);
      expect(events.map((e) => e.type)).toEqual(['BackupRestoreStarted', 'BackupRestoreFailed']);
      expect(events[1]!.data).toMatchObject({ backupId, reason: run.operation.error });
    },
  );

  it('a file that no longer matches its sha256 is refused at verify: nothing fenced, nothing restored', async () => {
    const backupId = await backupNow();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(w.deps.files.pathOf(SHOP, backupId), 'tampered');
    const before = await digests();
    const run = await restoreAndWait(deps, { clusterId: SHOP, backupId });
    expect(run.operation).toMatchObject({
      status: 'failed',
      failedStep: 'verify',
      error: `backup ${backupId} does not match its recorded sha256; nothing was restored`,
      steps: [],
    });
    expect(await restoreEvents(run.operationId)).toEqual([]);
    expect(await digests()).toEqual(before);
    expect(await appLogin()).toBe(true);
  });

  it(
    'a crash while pg_restore runs leaves the fence and an uncommitted transaction; resumed, the leftover ' +
      'session is ended and the restore runs again in one transaction: every table is the backup',
    async () => {
      const backupId = await backupNow();
      const atBackup = await digests();
      await changeData();
      const size = await sizeOf(backupId);
      // The "crash": pg_restore gets 40% of the file and waits for the rest, inside its transaction, while the
      // worker that fed it is gone (nothing more is recorded: the operation stays running).
      let orphan: ToolProcess | undefined;
      const stalled = new PassThrough();
      const runtime = hookPgRestore((options, run) => {
        options.stdin!.pipe(firstBytes(Math.floor(size * 0.4))).pipe(stalled, { end: false });
        orphan = run({ ...options, stdin: stalled });
        throw new Error('simulated crash of the backup service while pg_restore runs');
      });
      await expect(restoreAndWait({ ...deps, runtime }, { clusterId: SHOP, backupId })).rejects.toThrow(
        /simulated crash/,
      );
      orphan!.stdout.resume();
      const orphanEnded = orphan!.done.then(
        () => 'committed',
        (e: Error) => e.message,
      );
      // Its transaction has written (the old tables are dropped in it) and is not committed; were it not one
      // transaction, the tables would now be empty (what a pg_restore --clean cut at this point leaves).
      for (let i = 0; ; i++) {
        const q = "SELECT 1 FROM pg_stat_activity WHERE application_name = 'pg_restore' AND backend_xid IS NOT NULL";
        if ((await sql(w.superuser(w.leader), q)).length > 0) break;
        if (i > 300) throw new Error('the leftover pg_restore never wrote');
        await new Promise((r) => setTimeout(r, 50));
      }
      const operationId = (await runningOperationId())!;
      // Still fenced: the role logs in only with the one-off password of the interrupted restore.
      expect(await appLogin()).toMatch(/password authentication failed for user "app"/);
      expect((await restoreEvents(operationId)).map((e) => e.type)).toEqual(['BackupRestoreStarted']);

      // The restarted service resumes the operation.
      expect(await executeOperation(deps, SHOP, operationId, restoreOperation(deps))).toBe('succeeded');
      stalled.end();
      expect(await orphanEnded).toMatch(/pg_restore failed/);
      const op = (await loadOperation(w.store, SHOP, operationId))!;
      expect(op.steps.map((s) => s.step)).toEqual(['verify', 'fence', 'restore', 'unfence']);
      expect((await restoreEvents(operationId)).map((e) => e.type)).toEqual([
        'BackupRestoreStarted',
        'BackupRestoreStarted',
        'BackupRestoreCompleted',
      ]);
      expect(await digests()).toEqual(atBackup);
      expect(await appLogin()).toBe(true);
    },
  );
});

describe('restore into a new cluster (--into)', () => {
  it(
    'the operation, on the source stream, asks provisioning over NATS for the cluster (once, even resumed), ' +
      'waits until it is ready and restores into its leader',
    async () => {
      const backupId = await backupNow();
      const atBackup = await digests();
      const created: Created[] = [];
      const provisioning = fakeProvisioning(created);
      try {
        const run = await restoreAndWait(deps, { clusterId: SHOP, backupId, into: { name: 'shop-copy' } });
        expect(run).toMatchObject({ ended: 'succeeded', clusterId: SHOP });
        expect(run.operation.params).toEqual({ backupId, into: { name: 'shop-copy' } });
        expect(run.operation.steps.map((s) => s.step)).toEqual([
          'verify',
          'create-target',
          'target-ready',
          'fence',
          'restore',
          'unfence',
        ]);
        expect(created).toHaveLength(1);
        const targetClusterId = created[0]!.clusterId;
        expect(created[0]!.commandId).toBe(`${run.operationId}:create-target`);
        expect(run.operation.result).toMatchObject({
          backupId,
          clusterId: SHOP,
          targetClusterId,
          targetName: 'shop-copy',
        });
        expect(await digests(created[0]!.node)).toEqual(atBackup);
        const events = await restoreEvents(run.operationId);
        expect(events.map((e) => [e.type, 'targetClusterId' in e.data && e.data.targetClusterId])).toEqual([
          ['BackupRestoreStarted', targetClusterId],
          ['BackupRestoreCompleted', targetClusterId],
        ]);

        // A resumed create-target asks again with the same command id and finds the same cluster.
        const source = foldClusterView((await w.store.readStream(streamIds.cluster(SHOP))).events);
        expect(await createTargetCluster(deps, run.operationId, source, 'shop-copy')).toEqual({
          targetClusterId,
          targetName: 'shop-copy',
        });
        expect(created).toHaveLength(1);
        // Another name taken by someone else ends the operation at create-target.
        const taken = await restoreAndWait(deps, { clusterId: SHOP, backupId, into: { name: 'shop-copy' } });
        expect(taken.operation).toMatchObject({ status: 'failed', failedStep: 'create-target' });
        expect(taken.operation.error).toMatch(/cluster shop-copy was not created: a cluster named shop-copy/);
      } finally {
        await provisioning.stop();
      }
    },
  );
});

async function sizeOf(backupId: string): Promise<number> {
  const { statSync } = await import('node:fs');
  return statSync(w.deps.files.pathOf(SHOP, backupId)).size;
}

async function runningOperationId(): Promise<string | undefined> {
  return foldClusterView((await w.store.readStream(streamIds.cluster(SHOP))).events).ops.running;
}

/**
 * Provisioning as far as a restore --into sees it, on NATS: CreateCluster reserves the name in the
 * account (caused by the command id, NAME_TAKEN when it is taken) and answers at once; the cluster
 * (a fresh node) becomes ready a moment later.
 */
interface Created {
  clusterId: string;
  commandId?: string;
  node?: NodeInfo;
}
function fakeProvisioning(created: Created[]): CommandServer {
  return serveCommands(nc, 'provisioning', {
    CreateCluster: async (data, commandMeta): Promise<CommandReply> => {
      const names = streamIds.names(data.accountId);
      const { events } = await w.store.readStream(names);
      if (events.some((e) => e.type === 'ClusterNameReserved' && e.data.name === data.name)) {
        const message = `a cluster named ${data.name} already exists in account ${data.accountId}`;
        return { ok: false, code: 'NAME_TAKEN', message, details: { field: 'name' } };
      }
      const clusterId = `${data.name}-${created.length + 1}`;
      const entry: Created = { clusterId, ...(commandMeta.commandId ? { commandId: commandMeta.commandId } : {}) };
      created.push(entry);
      const reserved = { accountId: data.accountId, name: data.name, clusterId };
      const causationId = commandMeta.commandId ?? null;
      await w.store.appendToStream(names, [{ type: 'ClusterNameReserved', data: reserved, causationId }]);
      setTimeout(() => {
        void (async () => {
          entry.node = await w.freshNode(`fx-${clusterId}`);
          await w.writeCluster(clusterId, data.plan, [entry.node], data.name);
        })();
      }, 500);
      return { ok: true, streamId: streamIds.cluster(clusterId), version: 1, result: { clusterId, name: data.name } };
    },
  });
}
