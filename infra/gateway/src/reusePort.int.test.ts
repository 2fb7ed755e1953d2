import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ownedTempDir, startLocalServer, type LocalServer } from '@pgfleet/postgres';
import { createHaproxyGateways, type GatewaySpec } from './haproxyProcess.js';

let home: string;
let pgDir: string;
let server: LocalServer;
let port: number;
const gateways = () => createHaproxyGateways({ home });
const spec = (gatewayId: string): GatewaySpec => ({
  clusterId: 'biz',
  gatewayId,
  binds: [{ host: '127.0.0.1', port }],
  nodes: [{ nodeId: 'n1', host: '127.0.0.1', port: server.port }],
  leaderNodeId: 'n1',
});

/** Current connections of one gateway, from its own runtime API (`show info`). */
async function currConns(gatewayId: string): Promise<number> {
  const info = await gateways().runtimeApi('biz', gatewayId).command('show info');
  return Number(/^CurrConns: (\d+)$/m.exec(info)?.[1] ?? NaN);
}

const newClient = () =>
  new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2000 });

/**
 * A client that keeps running queries over one session and, when the session breaks, reconnects
 * to the same address until it works again, recording how long each interruption lasted.
 */
class Worker {
  client = newClient();
  queries = 0;
  interruptions: number[] = [];
  private stopped = false;

  async open() {
    this.client.on('error', () => undefined);
    await this.client.connect();
  }

  async run(untilQueries: number) {
    while (!this.stopped && this.queries < untilQueries) {
      try {
        await this.client.query('SELECT 1');
        this.queries++;
      } catch {
        const brokeAt = performance.now();
        await this.client.end().catch(() => undefined);
        for (;;) {
          this.client = newClient();
          this.client.on('error', () => undefined);
          try {
            await this.client.connect();
            await this.client.query('SELECT 1');
            break;
          } catch {
            await this.client.end().catch(() => undefined);
            await new Promise((r) => setTimeout(r, 5));
          }
        }
        this.interruptions.push(performance.now() - brokeAt);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  async close() {
    this.stopped = true;
    await this.client.end().catch(() => undefined);
  }
}

const workers: Worker[] = [];

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'pgfleet-gw2-'));
  pgDir = await ownedTempDir('pgfleet-gw2pg-');
  server = await startLocalServer({ dataDir: join(pgDir, 'n1'), port: await freePort() });
  port = await freePort();
});

afterAll(async () => {
  await Promise.allSettled(workers.map((w) => w.close()));
  await Promise.allSettled([gateways().remove('biz', 'gw-1'), gateways().remove('biz', 'gw-2')]);
  await server?.stop('immediate');
  await rm(home, { recursive: true, force: true });
  await rm(pgDir, { recursive: true, force: true });
});

describe('two gateway processes serving one address (SO_REUSEPORT)', () => {
  it('both bind the same address and the kernel spreads connections over them', async () => {
    const [one, two] = [await gateways().start(spec('gw-1')), await gateways().start(spec('gw-2'))];
    expect(one.pid).not.toBe(two.pid);
    const listeners = execFileSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
    expect(listeners).toContain(`pid=${one.pid},`);
    expect(listeners).toContain(`pid=${two.pid},`);

    // Open 8 sessions, more if needed until each gateway carries one (the kernel hashes each new connection).
    for (let i = 0; i < 64 && (i < 8 || (await currConns('gw-1')) === 0 || (await currConns('gw-2')) === 0); i++) {
      const w = new Worker();
      await w.open();
      workers.push(w);
    }
    expect(await currConns('gw-1')).toBeGreaterThan(0);
    expect(await currConns('gw-2')).toBeGreaterThan(0);
  });

  it('keeps the address working when one gateway is killed with -9: cut sessions reconnect via the other', async () => {
    const onKilled = await currConns('gw-1');
    const target = 200;
    const load = Promise.all(workers.map((w) => w.run(target)));
    await new Promise((r) => setTimeout(r, 200));
    await gateways().kill9('biz', 'gw-1');
    await load;

    expect(workers.every((w) => w.queries === target)).toBe(true);
    const interruptions = workers.flatMap((w) => w.interruptions);
    expect(interruptions.length).toBeGreaterThanOrEqual(onKilled); // every session on gw-1 broke and came back
    expect((await gateways().status('biz', 'gw-1')).state).toBe('stopped');
    expect((await gateways().status('biz', 'gw-2')).state).toBe('running');
    const ms = interruptions.map((x) => Math.round(x * 10) / 10).sort((x, y) => x - y);
    console.log(
      `kill -9 of gw-1 with ${workers.length} sessions (${onKilled} on gw-1): ${ms.length} reconnects, ` +
        `interruption ms min ${ms[0]} median ${ms[Math.floor(ms.length / 2)]} max ${ms[ms.length - 1]}`,
    );

    for (let i = 0; i < 10; i++) {
      const c = newClient();
      await c.connect();
      expect((await c.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
      await c.end();
    }
  });

  it('takes its share of new connections again once restarted', async () => {
    expect((await gateways().start(spec('gw-1'))).action).toBe('started');
    const clients: pg.Client[] = [];
    for (let i = 0; i < 64 && (await currConns('gw-1')) === 0; i++) {
      const c = newClient();
      await c.connect();
      clients.push(c);
    }
    expect(await currConns('gw-1')).toBeGreaterThan(0);
    await Promise.all(clients.map((c) => c.end()));
  });
});
