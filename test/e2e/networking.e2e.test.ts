import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewaysUnder, psql, startPlatform, waitFor, type TestPlatform } from './harness.js';

interface NodeRow {
  nodeId: string;
  role: string;
  state: string;
  port: number;
  timeline: number;
}
interface Shown {
  clusterId: string;
  status: string;
  leader?: string;
  nodes: NodeRow[];
}

let t: TestPlatform;
const json = async <T>(...args: string[]): Promise<T> => {
  const r = await t.cli(...args, '--json');
  if (r.code !== 0) throw new Error(`pgfleet ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
};
const auditLength = async (name: string) => (await json<unknown[]>('audit', name)).length;

beforeAll(async () => {
  t = await startPlatform();
});
afterAll(async () => {
  await t?.cleanup();
});

describe('networking, end to end: the gateway is the entry point, TLS to the node, switchover', () => {
  let url = '';
  let verifyFull = '';
  let shown: Shown;

  it(
    'a Business cluster gets two gateways on one address; the URL points at them; psql verify-full with ' +
      'the cluster CA works over TLS',
    async () => {
      const created = await t.cli('cluster', 'create', 'edge', '--plan', 'business-1024');
      expect(created.code, created.stderr).toBe(0);
      shown = await json<Shown>('cluster', 'show', 'edge');
      const r = await json<{ url: string; host: string; port: number; tls: { sslmode: string; sslrootcert: string } }>(
        'cluster',
        'url',
        'edge',
      );
      url = r.url;
      expect(r.host).toBe('127.0.0.1');
      expect(shown.nodes.map((n) => n.port)).not.toContain(r.port); // never a node
      expect(r.tls.sslmode).toBe('verify-full');
      expect(gatewaysUnder(join(t.home, 'clusters', shown.clusterId, 'gateways'))).toHaveLength(2);

      const ca = await t.cli('cluster', 'ca', 'edge');
      expect(ca.code, ca.stderr).toBe(0);
      expect(ca.stdout).toContain('-----BEGIN CERTIFICATE-----');
      const caFile = join(t.home, 'client-ca.crt');
      writeFileSync(caFile, ca.stdout);
      verifyFull = `${url}?sslmode=verify-full&sslrootcert=${caFile}`;
      expect(psql(verifyFull, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).toBe('t');
      psql(
        verifyFull,
        'CREATE TABLE hits(id serial PRIMARY KEY, at timestamptz DEFAULT now()); INSERT INTO hits DEFAULT VALUES',
      );
      expect(psql(verifyFull, "SELECT current_setting('port')")).toBe(
        String(shown.nodes.find((n) => n.role === 'leader')!.port),
      );
    },
  );

  it('kill -9 of one gateway: the same URL keeps working through the other', async () => {
    const gw1 = gatewaysUnder(join(t.home, 'clusters', shown.clusterId, 'gateways', 'gw1'));
    expect(gw1.length).toBeGreaterThan(0);
    for (const pid of gw1) process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 10; i++) psql(verifyFull, 'INSERT INTO hits DEFAULT VALUES');
    expect(psql(verifyFull, 'SELECT count(*) FROM hits')).toBe('11');
  });

  it(
    'kill -9 of the networking service: the restarted service starts the killed gateway again on the same ' + 'address',
    async () => {
      const gwDir = join(t.home, 'clusters', shown.clusterId, 'gateways', 'gw1');
      // Killed in the previous test; killed again if a reconciliation since (the log scan between
      // tests takes a moment) started it already.
      for (const pid of gatewaysUnder(gwDir)) process.kill(pid, 'SIGKILL');
      await waitFor('gw1 gone', () => (gatewaysUnder(gwDir).length === 0 ? true : undefined), 10_000);
      const before = t.platform.services().find((s) => s.name === 'networking')!.pid!;
      process.kill(before, 'SIGKILL');
      await waitFor('a new networking process', () => {
        const pid = t.platform.services().find((s) => s.name === 'networking')?.pid;
        return pid && pid !== before ? pid : undefined;
      });
      await waitFor('gw1 running again', () => (gatewaysUnder(gwDir).length > 0 ? true : undefined), 60_000);
      expect(psql(verifyFull, 'SELECT count(*) FROM hits')).toBe('11');
    },
  );

  it(
    'kill -9 of one gateway under a write load over TLS: every client reconnects through the same URL and ' +
      'carries on (interruption printed)',
    async () => {
      const caFile = join(t.home, 'client-ca.crt');
      const connect = async () => {
        const c = new pg.Client({
          connectionString: url,
          ssl: { ca: readFileSync(caFile, 'utf8'), servername: 'localhost' },
          connectionTimeoutMillis: 3000,
        });
        c.on('error', () => undefined);
        await c.connect();
        return c;
      };
      let stop = false;
      // The kill happens once every client is connected and writing (a handshake under way at the
      // kill is not a reconnection of a running client).
      const writing: Promise<void>[] = [];
      const worker = async (started: () => void) => {
        let client = await connect();
        let done = 0;
        const gaps: number[] = [];
        while (!stop) {
          try {
            await client.query('INSERT INTO hits DEFAULT VALUES');
            done++;
            if (done === 1) started();
          } catch {
            const broke = Date.now();
            await client.end().catch(() => undefined);
            for (;;) {
              try {
                client = await connect();
                break;
              } catch {
                await new Promise((r) => setTimeout(r, 5));
              }
            }
            gaps.push(Date.now() - broke);
          }
        }
        await client.end();
        return { done, gaps };
      };
      const before = Number(psql(verifyFull, 'SELECT count(*) FROM hits'));
      const running = Array.from({ length: 8 }, () => {
        let started: () => void = () => undefined;
        writing.push(new Promise<void>((resolve) => (started = resolve)));
        return worker(started);
      });
      await Promise.all(writing);
      await new Promise((r) => setTimeout(r, 200));
      const gw2 = gatewaysUnder(join(t.home, 'clusters', shown.clusterId, 'gateways', 'gw2'));
      expect(gw2.length).toBeGreaterThan(0);
      for (const pid of gw2) process.kill(pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 1000));
      stop = true;
      const results = await Promise.all(running);
      const gaps = results.flatMap((r) => r.gaps);
      const total = results.reduce((n, r) => n + r.done, 0);
      console.log(
        `kill -9 of gw2 under load: ${gaps.length} of 8 clients reconnected; ` +
          `interruption ms: ${gaps.join(', ') || 'none'}`,
      );
      expect(results.every((r) => r.done > 0)).toBe(true);
      // Every acknowledged insert is there; an insert in flight when its session broke may or may not be.
      const after = Number(psql(verifyFull, 'SELECT count(*) FROM hits'));
      expect(after).toBeGreaterThanOrEqual(before + total);
      expect(after).toBeLessThanOrEqual(before + total + gaps.length);
    },
  );

  it('switchover --to node3: the gateway follows, writes through the same URL succeed on the new leader', async () => {
    const r = await json<{ result: { from: string; to: string; timeline: number }; gatewayLeader: string }>(
      'cluster',
      'switchover',
      'edge',
      '--to',
      'node3',
    );
    expect(r.result).toMatchObject({ from: 'node1', to: 'node3', timeline: 2 });
    expect(r.gatewayLeader).toBe('node3');
    const node3 = shown.nodes.find((n) => n.nodeId === 'node3')!;
    await waitFor(
      'a write through the gateway',
      () => {
        try {
          psql(verifyFull, 'INSERT INTO hits DEFAULT VALUES');
          return true;
        } catch {
          return undefined;
        }
      },
      30_000,
    );
    expect(psql(verifyFull, "SELECT current_setting('port')")).toBe(String(node3.port));
    expect(psql(verifyFull, 'SELECT pg_is_in_recovery()')).toBe('f');
    expect(Number(psql(verifyFull, 'SELECT count(*) FROM hits'))).toBeGreaterThan(12);
    const after = await json<Shown>('cluster', 'show', 'edge');
    expect(after.nodes.find((n) => n.nodeId === 'node3')).toMatchObject({ role: 'leader', state: 'running' });
    expect(after.nodes.find((n) => n.nodeId === 'node1')).toMatchObject({ role: 'follower', state: 'running' });
  });

  it(
    'tls --force: plaintext (sslmode=disable) is refused, verify-full works, replication carries on; ' +
      'again is a no-op',
    async () => {
      const plain = `${url}?sslmode=disable`;
      expect(psql(plain, 'SELECT 1')).toBe('1'); // before: plaintext still accepted
      const noFlag = await t.cli('cluster', 'tls', 'edge');
      expect(noFlag.code).not.toBe(0);
      expect(noFlag.stderr).toContain('--force');
      const forced = await t.cli('cluster', 'tls', 'edge', '--force');
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.stdout).toContain('TLS is forced');
      expect(() => psql(plain, 'SELECT 1')).toThrow(/no encryption|pg_hba/);
      expect(psql(verifyFull, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).toBe('t');
      psql(verifyFull, 'INSERT INTO hits DEFAULT VALUES');
      const shownNow = await json<{ nodes: { role: string; state: string; lagBytes: number | null }[] }>(
        'cluster',
        'show',
        'edge',
      );
      for (const f of shownNow.nodes.filter((n) => n.role === 'follower'))
        expect(f).toMatchObject({ state: 'running', lagBytes: expect.any(Number) });
      const again = await t.cli('cluster', 'tls', 'edge', '--force');
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain('already forced');
    },
  );

  it(
    'certs --rotate: every node presents a new certificate from the same CA, an open TLS session carries ' +
      'on, verify-full still works',
    async () => {
      const leaderPort = shown.nodes.find((n) => n.nodeId === 'node3')!.port;
      // The certificate a node presents, by its SHA-256 fingerprint (openssl speaks PostgreSQL's STARTTLS).
      const presented = () => {
        const s = spawnSync(
          'sh',
          [
            '-c',
            `openssl s_client -starttls postgres -connect 127.0.0.1:${leaderPort} </dev/null 2>/dev/null | ` +
              'openssl x509 -noout -fingerprint -sha256',
          ],
          { encoding: 'utf8' },
        );
        return s.stdout.trim();
      };
      const before = presented();
      expect(before).toMatch(/Fingerprint=/);
      const held = new pg.Client({
        connectionString: url,
        ssl: { ca: readFileSync(join(t.home, 'client-ca.crt'), 'utf8'), servername: 'localhost' },
      });
      held.on('error', () => undefined);
      await held.connect();
      const noFlag = await t.cli('cluster', 'certs', 'edge');
      expect(noFlag.code).not.toBe(0);
      expect(noFlag.stderr).toContain('--rotate');
      const r = await json<{ result: { nodes: string[]; notAfter: string } }>('cluster', 'certs', 'edge', '--rotate');
      expect(r.result.nodes.sort()).toEqual(['node1', 'node2', 'node3']);
      expect(new Date(r.result.notAfter).getTime()).toBeGreaterThan(Date.now());
      await waitFor('the new certificate to be presented', () => (presented() !== before ? true : undefined), 10_000);
      expect((await held.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1); // not cut
      await held.end();
      expect(psql(verifyFull, 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).toBe('t');
    },
  );

  it('bad arguments and unknown clusters: clear errors, non-zero exit, nothing stored', async () => {
    const before = await auditLength('edge');
    const unknownNode = await t.cli('cluster', 'switchover', 'edge', '--to', 'node9');
    expect(unknownNode.code).not.toBe(0);
    expect(unknownNode.stderr).toContain('no node node9');
    const leader = await t.cli('cluster', 'switchover', 'edge', '--to', 'node3');
    expect(leader.code).not.toBe(0);
    expect(leader.stderr).toContain('already the leader');
    const badNode = await t.cli('cluster', 'switchover', 'edge', '--to', 'no de');
    expect(badNode.code).not.toBe(0);
    expect(badNode.stderr).toMatch(/to/);
    expect(await auditLength('edge')).toBe(before);
    for (const args of [
      ['switchover', 'nosuch'],
      ['ca', 'nosuch'],
      ['url', 'nosuch'],
      ['tls', 'nosuch', '--force'],
      ['certs', 'nosuch', '--rotate'],
    ]) {
      const r = await t.cli('cluster', ...args);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('no cluster named nosuch');
    }
    const solo = await t.cli('cluster', 'create', 'solo', '--plan', 'sandbox');
    expect(solo.code, solo.stderr).toBe(0);
    const one = await t.cli('cluster', 'switchover', 'solo');
    expect(one.code).not.toBe(0);
    expect(one.stderr).toContain('no follower');
  });
});
