import pg from 'pg';
import { gatewaysUnder } from '../../e2e/harness.js';
import { startPgfleetCluster, type PgfleetCluster } from '../failover/pgfleet.js';
import { freezeTree, thaw } from '../failover/processes.js';

const env = process.env;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (m: string) => console.error(`[chaos] ${m}`);

/** One client writing every 100 ms through the URL, on one connection it opens again after any error. */
function steadyWriter(url: string) {
  let stopped = false;
  let attempts = 0;
  let ok = 0;
  const acked: number[] = [];
  const loop = (async () => {
    let client: pg.Client | undefined;
    for (let seq = 1; !stopped; seq++) {
      const tick = sleep(100);
      attempts += 1;
      try {
        if (!client) {
          client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000, query_timeout: 1000 });
          client.on('error', () => undefined);
          await client.connect();
        }
        await client.query('INSERT INTO chaos (seq) VALUES ($1)', [seq]);
        ok += 1;
        acked.push(seq);
      } catch {
        const dead = client;
        client = undefined;
        void Promise.race([dead?.end().catch(() => undefined), sleep(500)]);
      }
      await tick;
    }
    await client?.end().catch(() => undefined);
  })();
  return {
    stats: () => ({ attempts, ok }),
    async stop() {
      stopped = true;
      await loop;
      return acked;
    },
  };
}

type Fault = { name: string; run(c: PgfleetCluster): Promise<() => void> };

const nothing = () => undefined;
const faults: Fault[] = [
  {
    name: 'kill -9 of the leader',
    run: async (c) => {
      process.kill(c.postmasterPid((await c.view()).leader!), 'SIGKILL');
      return nothing;
    },
  },
  {
    name: 'SIGSTOP of the leader (10 s)',
    run: async (c) => {
      const frozen = freezeTree(c.postmasterPid((await c.view()).leader!));
      return () => thaw(frozen);
    },
  },
  {
    name: 'kill -9 of a follower',
    run: async (c) => {
      const v = await c.view();
      process.kill(c.postmasterPid(v.nodes.find((n) => n.nodeId !== v.leader)!.nodeId), 'SIGKILL');
      return nothing;
    },
  },
  {
    name: 'kill -9 of a gateway',
    run: async (c) => {
      const [pid] = gatewaysUnder(c.platform.home);
      if (pid) process.kill(pid, 'SIGKILL');
      return nothing;
    },
  },
  ...(['ha', 'networking'] as const).map((service) => ({
    name: `kill -9 of the ${service} service`,
    run: async (c: PgfleetCluster) => {
      const s = c.platform.platform.services().find((x) => x.name === service);
      if (s?.pid) process.kill(s.pid, 'SIGKILL');
      return nothing;
    },
  })),
];

/**
 * A chaos run: a Business cluster under one client writing every 100 ms through its URL, and for
 * `BENCH_CHAOS_SECONDS` (180) a random fault every 15–25 s (kill -9 or SIGSTOP of the leader, kill -9
 * of a follower, a gateway, the ha or networking service), each given 10 s before the next may
 * start. Prints the availability the client saw and the acknowledged writes lost (must be 0).
 */
export async function runChaosBench(): Promise<void> {
  const seconds = Number(env.BENCH_CHAOS_SECONDS ?? 180);
  const c = await startPgfleetCluster();
  try {
    const admin = new pg.Client({ connectionString: c.target.url });
    await admin.connect();
    await admin.query('DROP TABLE IF EXISTS chaos; CREATE TABLE chaos (seq int PRIMARY KEY)');
    await admin.end();
    const writer = steadyWriter(c.target.url);
    const end = Date.now() + seconds * 1000;
    const done: string[] = [];
    while (Date.now() < end) {
      await sleep(15_000 + Math.random() * 10_000);
      if (Date.now() >= end) break;
      const fault = faults[Math.floor(Math.random() * faults.length)]!;
      log(`${new Date().toISOString()} ${fault.name}`);
      done.push(fault.name);
      const undo = await fault.run(c).catch((e: Error) => {
        log(`fault failed: ${e.message}`);
        return nothing;
      });
      await sleep(10_000);
      undo();
    }
    await c.target.waitHealthy(300_000);
    const acked = await writer.stop();
    const { attempts, ok } = writer.stats();
    const check = new pg.Client({ connectionString: c.target.url });
    await check.connect();
    const present = new Set((await check.query<{ seq: number }>('SELECT seq FROM chaos')).rows.map((r) => r.seq));
    await check.end();
    const lost = acked.filter((s) => !present.has(s)).length;
    console.log(`chaos run: ${seconds} s, ${done.length} faults (${done.join('; ')})`);
    console.log(
      `availability seen by a client writing every 100 ms: ${((100 * ok) / attempts).toFixed(2)} % (${ok}/${attempts})`,
    );
    console.log(`acknowledged writes lost: ${lost}`);
  } finally {
    await c.target.close();
  }
}
