import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, serveCommands, startNatsServer, type CommandServer, type NatsServerHandle } from '@pgfleet/bus';
import { querySubject, streamIds, type DomainEvent } from '@pgfleet/contracts';
import { createPostgresEventStore, type PostgresEventStore } from '@pgfleet/eventstore';
import { freePort, ownedTempDir, startLocalServer, type LocalServer } from '@pgfleet/postgres';
import type { PitrStatus } from './pitrStatus.js';
import { startApiServer } from './server.js';

/**
 * `pitr status` and `pitr backup` over HTTP and the CLI against real servers (PostgreSQL holding the
 * event store, NATS, the API). The pitr service does not run here: a responder stands for its
 * RequestPitrBackup command and its PitrArchiver query (what the leader's pg_stat_archiver says).
 */

const TOKEN = 'test-token';
const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli.js');
const STOP = '2026-11-29T02:01:00.000Z';
const ARCHIVED = '2026-11-30T09:59:00.000Z';

let dir: string;
let pg: LocalServer;
let store: PostgresEventStore;
let nats: NatsServerHandle;
let nc: NatsConnection;
let pitr: CommandServer;
let archiver: Subscription;
let api: Awaited<ReturnType<typeof startApiServer>>;

async function cluster(clusterId: string, name: string, plan: string) {
  const nodes = [{ nodeId: 'node1', role: 'leader' as const }];
  const requested = { clusterId, name, accountId: 'default', plan, version: 15 as const, nodes, secretRef: 's' };
  const ready = { leader: 'node1', host: '127.0.0.1', port: 5432, database: 'app', user: 'app' };
  await store.appendToStream(streamIds.cluster(clusterId), [
    { type: 'ClusterRequested', data: requested },
    { type: 'ClusterReady', data: ready },
  ]);
}

beforeAll(async () => {
  dir = await ownedTempDir('pgfleet-api-pitr-');
  pg = await startLocalServer({ dataDir: join(dir, 'pg'), port: await freePort() });
  store = createPostgresEventStore({ connectionString: pg.url() });
  await store.migrate();
  nats = await startNatsServer({ port: await freePort(), storeDir: join(dir, 'nats') });
  nc = await connectBus({ servers: nats.url, name: 'api-pitr-test' });
  await cluster('c-shop', 'shop', 'starter-512');
  await cluster('c-play', 'play', 'sandbox');
  const history: DomainEvent[] = [
    { type: 'ContinuousBackupEnabled', data: { clusterId: 'c-shop', stanza: 'c-shop', node: 'node1' } },
    {
      type: 'PitrBackupRequested',
      data: { backupId: 'p1', clusterId: 'c-shop', kind: 'initial', requestedAt: '2026-11-29T02:00:00.000Z' },
    },
    { type: 'PitrBackupStarted', data: { backupId: 'p1', node: 'node1' } },
    {
      type: 'PitrBackupCompleted',
      data: {
        backupId: 'p1',
        label: 'L1F',
        startedAt: '2026-11-29T02:00:00Z',
        stopAt: STOP,
        size: 5e6,
        durationMs: 60e3,
      },
    },
  ];
  await store.appendToStream(streamIds.pitr('c-shop'), history);
  pitr = serveCommands(nc, 'pitr', {
    RequestPitrBackup: async (data) => ({
      ok: true,
      streamId: streamIds.pitr(data.clusterId),
      version: 5,
      result: { backupId: 'p2' },
    }),
  });
  archiver = nc.subscribe(querySubject('pitr', 'PitrArchiver'), {
    callback: (_err, msg) => {
      const live = { lastArchivedAt: ARCHIVED, pendingSegments: 2, lagSeconds: 42, health: 'ok' };
      msg.respond(JSON.stringify({ archiver: live, nextFullBackupAt: '2026-12-06T02:00:00.000Z' }));
    },
  });
  api = await startApiServer({ port: await freePort(), token: TOKEN, store, nc, home: join(dir, 'home') });
});

afterAll(async () => {
  await api?.close();
  archiver?.unsubscribe();
  await pitr?.stop();
  await nc?.close();
  await nats?.stop();
  await store?.close();
  await pg?.stop('immediate');
  if (dir) await rm(dir, { recursive: true, force: true });
});

function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    PGFLEET_HOME: join(dir, 'cli-home'),
    PGFLEET_API_URL: api.url,
    PGFLEET_API_TOKEN: TOKEN,
  };
  const child = spawn(process.execPath, [CLI, ...args], { env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('pitr status and pitr backup (HTTP API and CLI)', () => {
  it('status --json: the window runs from the oldest full backup to the last archived WAL, with the lag', async () => {
    const r = await cli('pitr', 'status', 'shop', '--json');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as PitrStatus;
    expect(s.window).toEqual({ earliest: STOP, latest: ARCHIVED });
    expect(s.archiving).toMatchObject({ enabled: true, health: 'ok', lagSeconds: 42, live: true, pendingSegments: 2 });
    expect(s.lastFullBackup).toMatchObject({ id: 'p1', label: 'L1F', stopAt: STOP, size: 5e6 });
    expect(s.nextFullBackupAt).toBe('2026-12-06T02:00:00.000Z');
  });

  it('status for people names the window, the lag and the next full backup', async () => {
    const r = await cli('pitr', 'status', 'shop');
    expect(r.stdout).toContain(`recoverable window: ${STOP} .. ${ARCHIVED}`);
    expect(r.stdout).toContain('WAL archiving: ok, lag 42 s');
    expect(r.stdout).toContain('next full backup: 2026-12-06T02:00:00.000Z (weekly)');
  });

  it('a Sandbox cluster has no PITR: one sentence and a non-zero exit', async () => {
    const r = await cli('pitr', 'status', 'play');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error: the sandbox plan of cluster play has no point-in-time recovery; change to a starter or business plan\n',
    );
  });

  it('backup --no-wait asks the pitr service for a full backup and prints its id', async () => {
    const r = await cli('pitr', 'backup', 'shop', '--no-wait');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('full backup p2 of shop requested\n');
  });
});
