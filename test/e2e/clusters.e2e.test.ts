import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { nodeDataDirs, postmastersUnder, psql, startPlatform, waitFor, type TestPlatform } from './harness.js';

interface NodeRow {
  nodeId: string;
  role: string;
  state: string;
  port: number;
  timeline: number;
  lagBytes: number | null;
}
interface Shown {
  clusterId: string;
  status: string;
  nodes: NodeRow[];
}

let t: TestPlatform;
const json = async <T>(...args: string[]): Promise<T> => {
  const r = await t.cli(...args, '--json');
  if (r.code !== 0) throw new Error(`pgfleet ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
};
const eventCount = async () => {
  const client = new pg.Client({ connectionString: t.platform.eventstoreUrl });
  await client.connect();
  try {
    // What the services record on their own meanwhile (the disk meter, PITR backups, health) is not the test's.
    const rows = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM pgfleet_eventstore.events
        WHERE stream_id NOT LIKE 'disk-%' AND stream_id NOT LIKE 'pitr-%' AND type <> 'NodeHealthChanged'`,
    );
    return Number(rows.rows[0]!.n);
  } finally {
    await client.end();
  }
};
/** Every file under `dir`, recursively (absolute paths). */
const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));

const allStoredEventsText = async () => {
  const client = new pg.Client({ connectionString: t.platform.eventstoreUrl });
  await client.connect();
  try {
    return JSON.stringify((await client.query('SELECT * FROM pgfleet_eventstore.events')).rows);
  } finally {
    await client.end();
  }
};

beforeAll(async () => {
  t = await startPlatform();
});
afterAll(async () => {
  await t?.cleanup();
});

describe('clusters, end to end through the pgfleet CLI', () => {
  it('creates a starter cluster that psql can write to with the printed URL', async () => {
    const created = await t.cli('cluster', 'create', 'shop', '--plan', 'starter-512');
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toContain('ClusterReady');
    const url = (await t.cli('cluster', 'url', 'shop')).stdout.trim();
    expect(url).toMatch(/^postgresql:\/\/app:[^@]+@127\.0\.0\.1:\d+\/app$/);
    psql(
      url,
      'CREATE TABLE orders(id int PRIMARY KEY, total numeric); ' +
        'INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 100) g',
    );
    expect(psql(url, 'SELECT count(*) FROM orders')).toBe('100');
    const shown = await json<Shown>('cluster', 'show', 'shop');
    expect(shown.nodes).toHaveLength(1);
    expect(shown.nodes[0]).toMatchObject({ role: 'leader', state: 'running', timeline: 1 });
  });

  it(
    'creates a business cluster whose committed rows are readable on both followers; show reports roles, ' +
      'timeline and lag',
    async () => {
      const created = await t.cli('cluster', 'create', 'ledger', '--plan', 'business-1024');
      expect(created.code, created.stderr).toBe(0);
      const url = (await t.cli('cluster', 'url', 'ledger')).stdout.trim();
      psql(
        url,
        'CREATE TABLE entries(id int PRIMARY KEY, v text); ' +
          'INSERT INTO entries SELECT g, md5(g::text) FROM generate_series(1, 500) g',
      );
      const shown = await json<Shown>('cluster', 'show', 'ledger');
      expect(shown.nodes.map((n) => n.role).sort()).toEqual(['follower', 'follower', 'leader']);
      for (const n of shown.nodes) expect(n).toMatchObject({ state: 'running', timeline: 1 });
      // Synchronous (ANY 1) replication: the commit is on at least one follower when psql returns; both catch up.
      const followers = shown.nodes.filter((n) => n.role === 'follower');
      for (const f of followers) {
        const followerUrl = url.replace(/:(\d+)\/app$/, `:${f.port}/app`);
        await waitFor(`rows on ${f.nodeId}`, () => psql(followerUrl, 'SELECT count(*) FROM entries') === '500');
        expect(psql(followerUrl, 'SELECT pg_is_in_recovery()')).toBe('t');
      }
      const again = await json<Shown>('cluster', 'show', 'ledger');
      for (const f of again.nodes.filter((n) => n.role === 'follower')) expect(f.lagBytes).toBeGreaterThanOrEqual(0);
      expect(postmastersUnder(`${t.home}/clusters/${shown.clusterId}`)).toHaveLength(3);
    },
  );

  it(
    'kill -9 of the provisioning service during a business creation: it comes back and the cluster is ' +
      'ready with exactly three servers',
    async () => {
      const accepted = await json<{ result: { clusterId: string } }>(
        'cluster',
        'create',
        'chaos',
        '--plan',
        'business-1024',
        '--no-wait',
      );
      const clusterId = accepted.result.clusterId;
      // Kill as soon as the leader exists, i.e. in the middle of the work.
      await waitFor(
        'the leader to be provisioned',
        () => nodeDataDirs(t.home, clusterId).length >= 1 || undefined,
        60_000,
      );
      const before = t.platform.services().find((s) => s.name === 'provisioning')!.pid!;
      process.kill(before, 'SIGKILL');
      await waitFor('a new provisioning process', () => {
        const pid = t.platform.services().find((s) => s.name === 'provisioning')?.pid;
        return pid && pid !== before ? pid : undefined;
      });
      let last: Shown | undefined;
      const shown = await waitFor(
        'the cluster to be ready',
        async () => {
          last = await json<Shown>('cluster', 'show', 'chaos');
          return last.status === 'ready' && last.nodes.every((n) => n.state === 'running') ? last : undefined;
        },
        180_000,
      ).catch(async (error: Error) => {
        // Say where it stopped: the cluster as shown, its history, and what the services logged of it.
        const history = (await t.cli('audit', 'chaos')).stdout;
        const logged = t.logs.filter((l) => l.includes(clusterId) || l.startsWith('[provisioning]')).slice(-80);
        throw new Error(
          `${error.message}\nshown: ${JSON.stringify(last)}\nevents:\n${history}\nlogs:\n${logged.join('\n')}`,
        );
      });
      expect(shown.nodes).toHaveLength(3);
      expect(postmastersUnder(`${t.home}/clusters/${clusterId}`)).toHaveLength(3);
      expect(nodeDataDirs(t.home, clusterId)).toHaveLength(3);
    },
  );

  it('restarting the whole platform keeps the clusters running and the projected state identical', async () => {
    const listBefore = await json<unknown[]>('cluster', 'list');
    const pidsBefore = postmastersUnder(`${t.home}/clusters`).sort();
    await t.restart();
    const listAfter = await json<unknown[]>('cluster', 'list');
    expect(listAfter).toEqual(listBefore);
    expect(postmastersUnder(`${t.home}/clusters`).sort()).toEqual(pidsBefore);
    const url = (await t.cli('cluster', 'url', 'shop')).stdout.trim();
    expect(psql(url, 'SELECT count(*) FROM orders')).toBe('100');
  });

  it('rejects bad input with a clear error, a non-zero exit, and stores nothing', async () => {
    const before = await eventCount();
    const unknownPlan = await t.cli('cluster', 'create', 'other', '--plan', 'gold');
    expect(unknownPlan.code).not.toBe(0);
    expect(unknownPlan.stderr).toMatch(/plan/);
    const duplicate = await t.cli('cluster', 'create', 'shop', '--plan', 'starter-512');
    expect(duplicate.code).not.toBe(0);
    expect(duplicate.stderr).toContain('a cluster named shop already exists');
    const badName = await t.cli('cluster', 'create', 'Bad_Name', '--plan', 'sandbox');
    expect(badName.code).not.toBe(0);
    expect(badName.stderr).toMatch(/name: must be/);
    const token = (await import('node:fs')).readFileSync(`${t.home}/api-token`, 'utf8').trim();
    const res = await fetch(`${t.platform.apiUrl}/v1/clusters`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"name": "x",',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe('MALFORMED_JSON');
    const noToken = await fetch(`${t.platform.apiUrl}/v1/clusters`);
    expect(noToken.status).toBe(401);
    expect(await eventCount()).toBe(before);
  });

  it(
    'delete leaves no process, no data directory, no private key and no secret of the cluster, and keeps its ' +
      'backup until the plan retention; audit keeps the history; no password is in any stored event',
    async () => {
      const url = (await t.cli('cluster', 'url', 'shop')).stdout.trim();
      const password = decodeURIComponent(new URL(url).password);
      const { clusterId } = await json<Shown>('cluster', 'show', 'shop');
      const backup = await json<{ id: string }>('backup', 'create', 'shop');
      const ownFiles = () => filesUnder(t.home).filter((f) => f.includes(clusterId));
      // Before: its CA and node keys, and its app and replication passwords in the secret store.
      expect(ownFiles().filter((f) => f.endsWith('.key')).length).toBeGreaterThanOrEqual(2);
      expect(ownFiles().filter((f) => f.includes('/secrets/'))).toHaveLength(2);
      const beforeDelete = new Date().toISOString();
      const deleted = await t.cli('cluster', 'delete', 'shop', '--json');
      expect(deleted.code, deleted.stderr).toBe(0);
      expect(postmastersUnder(`${t.home}/clusters/${clusterId}`)).toHaveLength(0);
      expect(nodeDataDirs(t.home, clusterId)).toHaveLength(0);
      // At once: no private key and no secret of the cluster is left; its backup file is kept.
      const left = ownFiles();
      expect(left.filter((f) => f.endsWith('.key') || f.includes('/secrets/') || f.includes('/tls/'))).toEqual([]);
      expect(left.filter((f) => f.includes(backup.id))).toHaveLength(1);
      // Starter keeps dailies 7 days and weeklies 4 weeks: the backup is kept 28 days after the delete.
      const { backupsRetainedUntil } = JSON.parse(deleted.stdout) as { backupsRetainedUntil: string };
      const keptDays = (Date.parse(backupsRetainedUntil) - Date.parse(beforeDelete)) / 86_400_000;
      expect(keptDays).toBeGreaterThan(27.9);
      expect(keptDays).toBeLessThan(28.1);
      expect(await json<{ id: string }[]>('backup', 'list', 'shop')).toMatchObject([{ id: backup.id }]);
      const listed = await t.cli('backup', 'list', 'shop');
      expect(listed.stdout).toContain(`the cluster is deleted: its backups are kept until ${backupsRetainedUntil}`);
      // One history per cluster: the cluster's own events, and those of its gateways (and backups), in global order.
      const history = await json<{ type: string; streamId: string; globalPosition: string }[]>('audit', 'shop');
      // The lifecycle; the HA service's health records come and go with its probes.
      const lifecycle = (type: string) => !type.startsWith('Operation') && type !== 'NodeHealthChanged';
      const own = history.filter((e) => e.streamId === `cluster-${clusterId}` && lifecycle(e.type));
      expect(own.map((e) => e.type)).toEqual([
        'ClusterRequested',
        'NodeProvisioned',
        'NodeStarted',
        'ClusterReady',
        'ClusterDeletionRequested',
        'NodeStopped',
        'ClusterSecretsRemoved',
        'ClusterDeleted',
      ]);
      const retained = history.find((e) => e.type === 'BackupsRetained') as { data?: unknown } | undefined;
      expect(retained?.data).toEqual({ clusterId, until: backupsRetainedUntil, backupIds: [backup.id] });
      const gateway = history.filter((e) => e.streamId === `gateway-${clusterId}`).map((e) => e.type);
      expect(gateway).toContain('GatewayStarted');
      expect(gateway).toContain('GatewaysRemoved');
      const positions = history.map((e) => BigInt(e.globalPosition));
      expect(positions).toEqual([...positions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      const started = history.findIndex((e) => e.type === 'GatewayStarted');
      expect(started).toBeGreaterThan(history.findIndex((e) => e.type === 'ClusterRequested'));
      expect(history.findIndex((e) => e.type === 'GatewaysRemoved')).toBeGreaterThan(
        history.findIndex((e) => e.type === 'ClusterDeletionRequested'),
      );
      const onlyReady = await json<{ type: string }[]>('audit', 'shop', '--type', 'ClusterReady');
      expect(onlyReady.map((e) => e.type)).toEqual(['ClusterReady']);
      const past = await json<{ status: string; nodes: unknown[] }>('audit', 'shop', '--at', beforeDelete);
      expect(past.status).toBe('ready');
      expect(past.nodes).toHaveLength(1);
      expect(password.length).toBeGreaterThan(10);
      expect(await allStoredEventsText()).not.toContain(password);
      expect(t.logs.join('\n')).not.toContain(password);
    },
  );
});

describe('events tail', () => {
  it('is a JetStream consumer that prints the events of one type since a time, as JSON lines', async () => {
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('./harness.js');
    const child = spawn(
      process.execPath,
      [CLI, 'events', 'tail', '--type', 'ClusterReady', '--since', '2020-01-01T00:00:00Z', '--json'],
      { env: t.env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const first = await waitFor(
        'a ClusterReady event',
        () => {
          const line = out.split('\n')[0];
          return line && out.includes('\n') ? (JSON.parse(line) as { type: string; streamId: string }) : undefined;
        },
        30_000,
      );
      expect(first.type).toBe('ClusterReady');
      expect(first.streamId).toMatch(/^cluster-/);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
