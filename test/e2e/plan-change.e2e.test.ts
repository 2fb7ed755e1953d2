import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldClusterView, foldGateways, streamIds, type ClusterView } from '@pgfleet/contracts';
import { createPostgresEventStore, type EventStore } from '@pgfleet/eventstore';
import {
  nodeDataDirs,
  postmastersUnder,
  psql,
  sleep,
  startPlatform,
  waitFor,
  writeLoad,
  type CliResult,
  type TestPlatform,
} from './harness.js';

/**
 * Plan change as an operation, end to end on real PostgreSQL, HAProxy and NATS, through the CLI a
 * user runs: Starter -> Business and back while an application writes through the one URL, a
 * resize within Business (a rolling restart whose leader restart is a switchover), the on-demand
 * backups a smaller plan evicts, Sandbox -> Starter (backups and PITR start), the plan changes that
 * are refused, and a kill -9 of the provisioning service in the middle of Starter -> Business.
 */

let t: TestPlatform;
let store: EventStore;
let clusterId: string;
let url: string;

const NAME = 'plans';
/** A second cluster, born Sandbox: Sandbox -> Starter, then the crash in the middle of Starter -> Business. */
const SMALL = 'small';
let smallId: string;
const view = async (id = clusterId): Promise<ClusterView> =>
  foldClusterView((await store.readStream(streamIds.cluster(id))).events);
const gateways = async (id = clusterId) => foldGateways((await store.readStream(streamIds.gateway(id))).events);
/** The same URL the CLI prints, to one node instead of the gateway. */
const nodeUrl = (port: number, base = url) => base.replace(/@[^/]+\//, `@127.0.0.1:${port}/`);

/** `pgfleet cluster plan NAME --plan PLAN` as a user runs it; fails the test with what it printed. */
async function changePlan(plan: string, name = NAME): Promise<CliResult> {
  const r = await t.cli('cluster', 'plan', name, '--plan', plan);
  if (r.code !== 0) {
    const logs = t.logs.filter((l) => /\[(networking|provisioning|backup)\]/.test(l)).slice(-20);
    throw new Error(`cluster plan exited ${r.code}: ${r.stderr}\nservice logs:\n${logs.join('\n')}`);
  }
  console.log(`pgfleet cluster plan ${name} --plan ${plan}:\n${r.stderr}${r.stdout}`);
  return r;
}

/** `pgfleet ... --json` that must succeed, parsed. */
async function cliJson<T>(...args: string[]): Promise<T> {
  const r = await t.cli(...args, '--json');
  if (r.code !== 0) throw new Error(`pgfleet ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Create a cluster without waiting; its id. */
async function createCluster(name: string, plan: string): Promise<string> {
  const created = await cliJson<{ result: { clusterId: string } }>(
    'cluster',
    'create',
    name,
    '--plan',
    plan,
    '--no-wait',
  );
  return created.result.clusterId;
}

beforeAll(async () => {
  t = await startPlatform();
  store = createPostgresEventStore({ connectionString: t.platform.eventstoreUrl });
  [clusterId, smallId] = await Promise.all([createCluster(NAME, 'starter-512'), createCluster(SMALL, 'sandbox')]);
  for (const id of [clusterId, smallId]) {
    await waitFor('the cluster to be ready', async () => (await view(id)).status === 'ready' || undefined, 120_000);
  }
  await waitFor('the URL', async () => (await t.cli('cluster', 'url', NAME)).code === 0 || undefined, 60_000);
  url = (await t.cli('cluster', 'url', NAME)).stdout.trim();
  psql(url, 'CREATE TABLE acked (client int, seq int, PRIMARY KEY (client, seq))');
}, 180_000);

afterAll(async () => {
  await store?.close().catch(() => undefined);
  await t?.cleanup();
});

describe('plan change', () => {
  it('Starter -> Business under 8 writers: no write fails; 3 nodes, last row on followers, 2 gateways', async () => {
    const load = writeLoad(url);
    try {
      await waitFor('writes before the change', () => load.acks.length > 50 || undefined, 30_000);
      await changePlan('business-1024');
      await sleep(500);
    } finally {
      await load.stop();
    }
    expect(load.errors).toEqual([]);

    const v = await view();
    expect(v.plan).toBe('business-1024');
    expect(v.nodes).toHaveLength(3);
    expect(v.nodes.every((n) => n.started)).toBe(true);
    const last = load.acks.at(-1)!;
    for (const f of v.nodes.filter((n) => n.nodeId !== v.leader)) {
      const sql = `SELECT count(*) FROM acked WHERE client = ${last.client} AND seq = ${last.seq}`;
      await waitFor(`the last row on ${f.nodeId}`, () => psql(nodeUrl(f.port!), sql) === '1' || undefined, 10_000);
      expect(psql(nodeUrl(f.port!), 'SELECT pg_is_in_recovery()')).toBe('t');
    }
    const leaderPort = v.nodes.find((n) => n.nodeId === v.leader)!.port!;
    expect(psql(nodeUrl(leaderPort), "SELECT current_setting('synchronous_standby_names')")).toMatch(/^ANY 1 \(/);
    expect((await gateways()).gateways.map((g) => g.gatewayId).sort()).toEqual(['gw1', 'gw2']);
    expect((await t.cli('cluster', 'url', NAME)).stdout.trim()).toBe(url);
  }, 180_000);

  it('resize within Business under 8 writers: followers, a switchover, the old leader; interruption', async () => {
    const before = await view();
    const load = writeLoad(url);
    try {
      await waitFor('writes before the resize', () => load.acks.length > 50 || undefined, 30_000).catch((e: Error) => {
        throw new Error(`${e.message}: ${load.errors.slice(-5).join('\n')}`);
      });
      await changePlan('business-2048');
      await sleep(500);
    } finally {
      await load.stop();
    }
    const longest = load.longestGapMs();
    console.log(`resize business-1024 -> business-2048: longest interruption a client saw ${longest} ms`);
    console.log(`writer errors during the resize (${load.errors.length}):\n${load.errors.slice(0, 10).join('\n')}`);

    const v = await view();
    expect(v.plan).toBe('business-2048');
    expect(v.nodes).toHaveLength(3);
    expect(v.leader).not.toBe(before.leader); // the leader's restart was a switchover
    for (const n of v.nodes) expect(psql(nodeUrl(n.port!), "SELECT current_setting('max_connections')")).toBe('200');
    expect((await t.cli('cluster', 'url', NAME)).stdout.trim()).toBe(url);
  }, 180_000);

  it('Business -> Starter with 12 on-demand backups: 1 node, 1 gateway, every row, the 2 oldest evicted', async () => {
    // More on-demand backups than Starter keeps (10), taken one after the other: b[0] is the oldest.
    const made: string[] = [];
    for (let i = 0; i < 12; i++) {
      made.push((await cliJson<{ backupId: string }>('backup', 'create', NAME, '--no-wait')).backupId);
    }
    await waitFor(
      'the 12 backups to complete',
      async () => {
        const listed = await cliJson<{ id: string; status: string }[]>('backup', 'list', NAME);
        return made.every((id) => listed.some((b) => b.id === id && b.status === 'completed')) || undefined;
      },
      120_000,
    );
    const rows = psql(url, 'SELECT count(*) FROM acked');
    const r = await changePlan('starter-512');
    const v = await view();
    expect(v.plan).toBe('starter-512');
    expect(v.nodes.map((n) => n.nodeId)).toEqual([v.leader]);
    expect((await gateways()).gateways.map((g) => g.gatewayId)).toEqual(['gw1']);
    expect(psql(url, 'SELECT count(*) FROM acked')).toBe(rows);
    expect(psql(url, "SELECT current_setting('synchronous_standby_names')")).toBe('');
    expect(psql(url, 'SELECT count(*) FROM pg_replication_slots')).toBe('0');
    expect((await t.cli('cluster', 'url', NAME)).stdout.trim()).toBe(url);

    // The plan change says what went; the backups stream recorded it as for a new backup over the quota.
    expect(r.stdout).toContain(`keeps 10 on-demand backups: the 2 oldest were evicted (${made[0]}, ${made[1]})`);
    const events = (await store.readStream(streamIds.backups(clusterId))).events;
    const at = events.findIndex((e) => e.type === 'QuotaExceeded');
    expect(events.slice(at, at + 3).map((e) => [e.type, e.data])).toEqual([
      ['QuotaExceeded', { clusterId, quota: 'backups.manual.total', limit: 10, used: 12 }],
      ['BackupEvicted', { clusterId, backupId: made[0] }],
      ['BackupEvicted', { clusterId, backupId: made[1] }],
    ]);
    const listed = await cliJson<{ id: string; kind: string }[]>('backup', 'list', NAME);
    expect(listed.filter((b) => b.kind === 'manual').map((b) => b.id)).toEqual(made.slice(2));
  }, 240_000);

  it('an unknown plan and the same plan are refused in one sentence each, and nothing is recorded', async () => {
    const version = (await view()).version_;
    const unknown = await t.cli('cluster', 'plan', NAME, '--plan', 'business-9');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr.trim()).toMatch(/^.*unknown plan business-9; the plans are sandbox, starter-512/);
    const same = await t.cli('cluster', 'plan', NAME, '--plan', 'starter-512');
    expect(same.code).not.toBe(0);
    expect(same.stderr.trim()).toMatch(/cluster plans is already on plan starter-512/);
    expect((await view()).version_).toBe(version);
  });
  it('-> Sandbox while the data exceed its 1 GiB disk: refused with both sizes, nothing recorded', async () => {
    // 150000 rows of 7000 bytes, one per 8 KiB page (no compression, no TOAST): 1.1 GiB. Unlogged, so
    // no WAL to write or archive.
    psql(url, 'CREATE UNLOGGED TABLE ballast (b text); ALTER TABLE ballast ALTER b SET STORAGE PLAIN');
    psql(url, "INSERT INTO ballast SELECT repeat('x', 7000) FROM generate_series(1, 150000)");
    try {
      const version = (await view()).version_;
      const r = await t.cli('cluster', 'plan', NAME, '--plan', 'sandbox');
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim()).toMatch(
        /cluster plans holds 1\.\d GiB of data, more than the 1 GiB disk of plan sandbox: delete data or choose a plan/,
      );
      expect((await view()).version_).toBe(version);
      expect((await view()).plan).toBe('starter-512');
    } finally {
      psql(url, 'DROP TABLE ballast');
    }
  }, 120_000);

  it('Sandbox -> Starter enables backups and PITR: a backup is taken after, pitr status shows archiving', async () => {
    const before = await t.cli('backup', 'create', SMALL);
    expect(before.code).not.toBe(0);
    expect(before.stderr).toMatch(/the sandbox plan of cluster small has no backups/);
    const smallUrl = (await t.cli('cluster', 'url', SMALL)).stdout.trim();
    psql(smallUrl, 'CREATE TABLE kept AS SELECT generate_series(1, 100) AS n');

    await changePlan('starter-512', SMALL);
    expect((await view(smallId)).plan).toBe('starter-512');
    const backup = await cliJson<{ status: string; node: string }>('backup', 'create', SMALL);
    expect(backup.status).toBe('completed');
    type Pitr = { archiving: { enabled: boolean; health: string }; window: unknown };
    const pitr = await waitFor(
      'WAL archiving and a first full backup',
      async () => {
        const s = await cliJson<Pitr>('pitr', 'status', SMALL);
        return s.archiving.enabled && s.archiving.health === 'ok' && s.window !== null ? s : undefined;
      },
      180_000,
    );
    expect(pitr.archiving).toMatchObject({ enabled: true, health: 'ok' });
    expect(psql(smallUrl, 'SELECT count(*) FROM kept')).toBe('100');
    expect(psql(smallUrl, 'SHOW archive_mode')).toBe('on');
  }, 240_000);

  it('kill -9 of the provisioning service while Starter -> Business clones the followers: after its restart ' +
    'the change ends succeeded (3 nodes, 2 gateways) or failed back to one node, never half', async () => {
    const smallUrl = (await t.cli('cluster', 'url', SMALL)).stdout.trim();
    const accepted = await cliJson<{ operationId: string }>(
      'cluster',
      'plan',
      SMALL,
      '--plan',
      'business-1024',
      '--no-wait',
    );
    // In the middle of the work: the first follower's data directory is being made.
    await waitFor('a follower being cloned', () => nodeDataDirs(t.home, smallId).length >= 2 || undefined, 60_000);
    const before = t.platform.services().find((s) => s.name === 'provisioning')!.pid!;
    process.kill(before, 'SIGKILL');
    const ofOperation = async () =>
      (await store.readStream(streamIds.cluster(smallId))).events.filter(
        (e) => 'operationId' in e.data && e.data.operationId === accepted.operationId,
      );
    // What was done when it was killed: the operation had not ended (else this proves nothing).
    const atKill = await ofOperation();
    const done = atKill.flatMap((e) => (e.type === 'OperationStepCompleted' ? [e.data.step] : []));
    console.log(`provisioning killed after the steps: ${done.join(', ') || 'none'}`);
    expect(atKill.map((e) => e.type)).not.toContain('OperationSucceeded');
    expect(atKill.map((e) => e.type)).not.toContain('OperationFailed');
    await waitFor('a new provisioning process', () => {
      const pid = t.platform.services().find((s) => s.name === 'provisioning')?.pid;
      return pid && pid !== before ? pid : undefined;
    });
    const ended = await waitFor(
      'the plan change to end',
      async () => (await ofOperation()).find((e) => e.type === 'OperationSucceeded' || e.type === 'OperationFailed'),
      240_000,
    ).catch(async (error: Error) => {
      const history = (await t.cli('audit', SMALL)).stdout;
      const logged = t.logs.filter((l) => l.includes(smallId) || l.startsWith('[provisioning]')).slice(-60);
      throw new Error(`${error.message}\nevents:\n${history}\nlogs:\n${logged.join('\n')}`);
    });
    console.log(`plan change after a kill -9 of provisioning: ${ended.type} ${JSON.stringify(ended.data)}`);

    const v = await view(smallId);
    const gw = (await gateways(smallId)).gateways.map((g) => g.gatewayId).sort();
    if (ended.type === 'OperationSucceeded') {
      expect(v.plan).toBe('business-1024');
      expect(v.nodes).toHaveLength(3);
      expect(v.nodes.every((n) => n.started)).toBe(true);
      expect(gw).toEqual(['gw1', 'gw2']);
      const leaderPort = v.nodes.find((n) => n.nodeId === v.leader)!.port!;
      const sync = "SELECT current_setting('synchronous_standby_names')";
      expect(psql(nodeUrl(leaderPort, smallUrl), sync)).toMatch(/^ANY 1 \(/);
    } else {
      expect(v.plan).toBe('starter-512');
      expect(v.nodes.map((n) => n.nodeId)).toEqual([v.leader]);
      expect(gw).toEqual(['gw1']);
    }
    // Exactly the servers the view names, no leftover: a data directory and a postmaster per node.
    expect(nodeDataDirs(t.home, smallId)).toHaveLength(v.nodes.length);
    expect(postmastersUnder(`${t.home}/clusters/${smallId}`)).toHaveLength(v.nodes.length);
    expect(v.status).toBe('ready');
    expect(psql(smallUrl, 'SELECT count(*) FROM kept')).toBe('100');
    expect((await t.cli('cluster', 'url', SMALL)).stdout.trim()).toBe(smallUrl);
  }, 360_000);
});
