import { execFile, execFileSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { ensureOwnedDir, freePort, ownedTempDir, postgresOsUser, toolchain, toolEnvironment } from '@pgfleet/postgres';
import { startEtcd, type Etcd } from './etcd.js';
import { startHaproxy, type Haproxy, type ProxiedNode } from './haproxy.js';
import { close as closeConnection } from './connections.js';
import { ensureDebianPackages } from './install.js';
import { postmastersUnder } from '../../e2e/harness.js';
import { killAll, processesUnder, signalTree, startDaemon, type Daemon } from './processes.js';
import type { FailoverTarget } from './target.js';

/** Patroni's HA timings (bootstrap.dcs); undefined = Patroni's defaults (ttl 30, loop_wait 10, retry_timeout 10). */
export interface PatroniTimings {
  ttl: number;
  loop_wait: number;
  retry_timeout: number;
}

const PATRONI_DEFAULTS: PatroniTimings = { ttl: 30, loop_wait: 10, retry_timeout: 10 };

interface PatroniNode extends ProxiedNode {
  dir: string;
  dataDir: string;
  daemon?: Daemon;
  /** Since when the leader has not listed this follower as streaming (performance.now()). */
  notStreamingSince?: number;
}

interface ClusterMember {
  name: string;
  role: string;
  state: string;
  lag?: number | string;
  timeline?: number;
}

const NODES = 3;
const PG_MAJOR = 15;
/**
 * A follower that has not streamed from the leader for this long is taken as stuck (Patroni 3.0.2
 * can leave a demoted leader on a diverged timeline that pg_rewind does not fix) and re-cloned with
 * `patronictl reinit`, as an operator would; counted as an intervention. Longer than Patroni's own
 * rejoin (demote, pg_rewind, restart) takes with its defaults on this machine.
 */
const REINIT_AFTER_MS = 90_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The baseline: Debian's `patroni` (3.0) and `etcd-server` (3.4) packages, installed here if
 * missing; one etcd, three Patroni nodes of PostgreSQL 15 run as the postgres OS user with
 * `synchronous_mode: true` (not strict, as pgfleet's `available`), pg_rewind enabled, and HAProxy
 * in front using Patroni's REST checks. `timings` undefined leaves Patroni's defaults untouched.
 */
export async function startPatroni(
  timings?: PatroniTimings,
  onCleanup: (close: () => Promise<void>) => void = () => undefined,
): Promise<FailoverTarget> {
  ensureDebianPackages(['patroni', 'etcd-server', 'haproxy']);
  const tc = toolchain(PG_MAJOR);
  const user = postgresOsUser();
  const dir = await ownedTempDir('pgfleet-bench-patroni-');
  const shown = timings ?? PATRONI_DEFAULTS;
  const version = execFileSync('patroni', ['--version'], { encoding: 'utf8' })
    .trim()
    .replace(/^patroni /, '');
  const name =
    `patroni ${version} ${timings ? 'tuned' : 'defaults'} ` +
    `(ttl ${shown.ttl}, loop_wait ${shown.loop_wait}, retry_timeout ${shown.retry_timeout})`;
  let etcd: Etcd | undefined;
  let proxy: Haproxy | undefined;
  const nodes: PatroniNode[] = [];
  const interventions: string[] = [];

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await proxy?.daemon.stop(2000);
      // A frozen server would not shut down: wake every one first.
      for (const pid of postmastersUnder(dir)) signalTree(pid, 'SIGCONT');
      await Promise.all(nodes.map((n) => n.daemon?.stop(30_000)));
      // Patroni starts its postmaster in a session of its own: kill what survived it.
      for (const pid of postmastersUnder(dir)) signalTree(pid, 'SIGKILL');
      await etcd?.daemon.stop(5000);
      // Anything started but not tracked yet (a Ctrl-C while starting): its command line names `dir`.
      killAll(processesUnder(dir));
      const keep = process.env.BENCH_FAILOVER_KEEP_LOGS;
      if (keep) {
        const to = join(keep, basename(dir));
        cpSync(dir, to, { recursive: true, filter: (f) => !f.includes('/data') && !f.includes('/etcd/') });
        console.error(`[bench] ${name}: logs kept in ${to}`);
      }
      rmSync(dir, { recursive: true, force: true });
    })();
    return closing;
  };
  onCleanup(close);

  try {
    console.error(`[bench] ${name}: starting etcd, 3 Patroni nodes and HAProxy in ${dir}`);
    etcd = await startEtcd(dir);
    for (let i = 0; i < NODES; i++) {
      const nodeDir = join(dir, `node${i}`);
      ensureOwnedDir(nodeDir);
      nodes.push({
        name: `node${i}`,
        dir: nodeDir,
        dataDir: join(nodeDir, 'data'),
        pgPort: await freePort(),
        restPort: await freePort(),
      });
    }
    const startNode = (node: PatroniNode) => {
      const file = join(node.dir, 'patroni.yml');
      writeFileSync(file, JSON.stringify(patroniConfig(node, etcd!, tc.binDir, timings), null, 2));
      node.daemon = startDaemon(`patroni ${node.name}`, 'patroni', [file], {
        logFile: join(node.dir, 'patroni.log'),
        cwd: node.dir,
        env: { ...toolEnvironment(), HOME: node.dir },
        uid: user.uid,
        gid: user.gid,
      });
    };
    // The first node bootstraps (initdb) and becomes the leader; the others clone it.
    startNode(nodes[0]!);
    await waitFor(120_000, `${nodes[0]!.name} to bootstrap as the leader`, async () =>
      (await rest(nodes[0]!, 'OPTIONS', '/primary')) !== undefined ? true : undefined,
    );
    for (const node of nodes.slice(1)) startNode(node);
    proxy = await startHaproxy(dir, nodes);
  } catch (error) {
    await close();
    throw error;
  }

  const url = `postgresql://postgres@127.0.0.1:${proxy.port}/postgres`;
  const members = async (): Promise<ClusterMember[] | undefined> => {
    for (const node of nodes) {
      const body = await rest(node, 'GET', '/cluster');
      if (body) return (JSON.parse(body) as { members: ClusterMember[] }).members;
    }
    return undefined;
  };

  return {
    name,
    url,
    async leaderPid() {
      const leader = (await members())?.find((m) => m.role === 'leader');
      const node = nodes.find((n) => n.name === leader?.name);
      if (!node) throw new Error(`${name}: no leader in the cluster`);
      return Number(readFileSync(join(node.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    },
    async waitHealthy(timeoutMs) {
      let seen = 'nothing yet';
      await waitFor(
        timeoutMs,
        () => `${name} to be healthy (last seen: ${seen})`,
        async () => {
          const list = await members();
          const leader = list?.find((m) => m.role === 'leader');
          const replication = await replicationThrough(url);
          seen = `members ${JSON.stringify(list?.map(describe))}; through HAProxy: ${replication.summary}`;
          const now = performance.now();
          // Only what the leader says counts: an unreachable endpoint says nothing about a follower.
          for (const node of replication.primary ? nodes : []) {
            if (node.name === leader?.name || replication.streaming.includes(node.name)) {
              node.notStreamingSince = undefined;
              continue;
            }
            node.notStreamingSince ??= now;
            if (now - node.notStreamingSince > REINIT_AFTER_MS) {
              const why = `not streaming for ${REINIT_AFTER_MS / 1000} s (${seen})`;
              interventions.push(`patronictl reinit ${node.name}: ${why}`);
              console.error(`[bench] ${name}: patronictl reinit ${node.name}, ${why}`);
              await patronictl(node, ['reinit', 'bench', node.name, '--force']);
              node.notStreamingSince = now;
            }
          }
          const healthy =
            list?.length === NODES &&
            list.every((m) => m.state === 'running') &&
            leader !== undefined &&
            replication.primary &&
            replication.streaming.length === NODES - 1 &&
            replication.sync >= 1;
          return healthy ? true : undefined;
        },
      );
    },
    interventions: () => [...interventions],
    close,
  };
}

/** The Patroni configuration of one node (written as JSON, which YAML reads). */
function patroniConfig(node: PatroniNode, etcd: Etcd, binDir: string, timings?: PatroniTimings): object {
  return {
    scope: 'bench',
    namespace: '/pgfleet-bench/',
    name: node.name,
    restapi: { listen: `127.0.0.1:${node.restPort}`, connect_address: `127.0.0.1:${node.restPort}` },
    etcd3: { hosts: [etcd.endpoint] },
    bootstrap: {
      dcs: {
        ...timings,
        synchronous_mode: true,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: { wal_log_hints: 'on', max_connections: 100, max_wal_senders: 10, max_replication_slots: 10 },
        },
      },
      initdb: [{ encoding: 'UTF8' }, { locale: 'C' }, 'data-checksums'],
    },
    postgresql: {
      listen: `127.0.0.1:${node.pgPort}`,
      connect_address: `127.0.0.1:${node.pgPort}`,
      data_dir: node.dataDir,
      bin_dir: binDir,
      pgpass: join(node.dir, 'pgpass'),
      authentication: {
        superuser: { username: 'postgres' },
        replication: { username: 'replicator', password: 'bench' },
      },
      parameters: { unix_socket_directories: node.dir },
      pg_hba: ['local all all trust', 'host all all 127.0.0.1/32 trust', 'host replication all 127.0.0.1/32 trust'],
    },
  };
}

/** One request to a node's REST API: its body when it answers 200 within a second, else undefined. */
async function rest(node: PatroniNode, method: string, path: string): Promise<string | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${node.restPort}${path}`, { method, signal: AbortSignal.timeout(1000) });
    const body = await r.text();
    return r.status === 200 ? body : undefined;
  } catch {
    return undefined; // not listening, or too slow (the signal also covers reading the body)
  }
}

interface Replication {
  /** The node behind the endpoint is a primary (not in recovery). */
  primary: boolean;
  /** application_name (= Patroni member name) of every follower streaming from it. */
  streaming: string[];
  /** How many of them are synchronous. */
  sync: number;
  summary: string;
}

/** What the node behind the endpoint says of itself and its followers (pg_stat_replication). */
async function replicationThrough(url: string): Promise<Replication> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000, query_timeout: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const primary = !(await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r;
    const r = await client.query<{ name: string; state: string; sync_state: string }>(
      'SELECT application_name AS name, state, sync_state FROM pg_stat_replication ORDER BY 1',
    );
    const streaming = r.rows.filter((row) => row.state === 'streaming');
    return {
      primary,
      streaming: streaming.map((row) => row.name),
      sync: streaming.filter((row) => row.sync_state === 'sync').length,
      summary:
        `${primary ? 'primary' : 'in recovery'}, followers ` +
        `[${r.rows.map((row) => `${row.name} ${row.state} ${row.sync_state}`).join(', ')}]`,
    };
  } catch (error) {
    return { primary: false, streaming: [], sync: 0, summary: `unreachable (${(error as Error).message})` };
  } finally {
    await closeConnection(client);
  }
}

/** Runs patronictl with a node's configuration (it talks to etcd and to the members' REST APIs). */
async function patronictl(node: PatroniNode, args: string[]): Promise<void> {
  await promisify(execFile)('patronictl', ['-c', join(node.dir, 'patroni.yml'), ...args], { timeout: 60_000 }).catch(
    (error: Error) => console.error(`[bench] patronictl ${args.join(' ')} failed: ${error.message}`),
  );
}

const describe = (m: ClusterMember) => `${m.name} ${m.role} ${m.state} tl ${m.timeline ?? '-'} lag ${m.lag ?? '-'}`;

/** Polls `check` every 250 ms until it returns a value; rejects after `timeoutMs`. */
async function waitFor<T>(
  timeoutMs: number,
  what: string | (() => string),
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${typeof what === 'string' ? what : what()}`);
    }
    await sleep(250);
  }
}
