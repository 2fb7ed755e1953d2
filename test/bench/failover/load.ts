import pg from 'pg';
import { cancelBackend, close, connectWithin, drop } from './connections.js';

/** How the write load behaves; index.ts fills it from the environment. */
export interface LoadOptions {
  /** Concurrent clients, each on its own connection. */
  clients: number;
  /** Pause of each client between two acknowledged writes (0 = as fast as the server answers). */
  pauseMs: number;
  /** A connection that is not ready for queries after this long is given up (pg `connectionTimeoutMillis`). */
  connectTimeoutMs: number;
  /**
   * A write with no answer after this long is given up and its connection dropped (pg
   * `query_timeout`, client side: a SIGSTOPped server never answers, so no server-side timeout
   * could fire).
   */
  queryTimeoutMs: number;
}

/**
 * Server-side `statement_timeout` of the load's sessions, as a multiple of the client's query
 * timeout: for a server that is alive but stuck elsewhere than in COMMIT. (It does not cover the
 * wait for a synchronous standby, which PostgreSQL runs after disarming the statement timeout; see
 * `cancelBackend` for that.)
 */
const STATEMENT_TIMEOUT_FACTOR = 2.5;

/**
 * The server process a connection landed on, as `port@postmaster start time`: through a gateway
 * the client does not choose its node, so every connection asks. A node restarted in place is a
 * new incarnation on the same port.
 */
export type Incarnation = string;

/** A write the server acknowledged: when the client received the answer, and from which incarnation. */
interface Ack {
  at: number;
  incarnation: Incarnation;
}

export interface Verification {
  /** Writes whose COMMIT the server acknowledged, over the whole run. */
  acknowledged: number;
  /** Acknowledged writes absent from the final leader: lost acknowledged commits. */
  lost: number;
  /** A few of the lost rows as `client:seq`, for the log. */
  lostSample: string[];
  /** Lost rows by the incarnation that had acknowledged them. */
  lostByIncarnation: Record<Incarnation, number>;
  /** Rows present although their write was not acknowledged (in flight at a kill): allowed. */
  unacknowledgedPresent: number;
}

export interface WriteLoad {
  /** Incarnation of the most recent acknowledgment, i.e. the leader the load is writing to. */
  currentIncarnation(): Incarnation | undefined;
  /** Resolves once every acknowledgment of the last second came from one incarnation, and the last is recent. */
  waitSteady(timeoutMs: number): Promise<Incarnation>;
  /**
   * Resolves with the first acknowledgment received at or after `after` (performance.now()) from
   * another incarnation than `notFrom`: the first write acknowledged by the new leader. Register
   * it before the kill. Rejects after `timeoutMs`.
   */
  firstAckAfter(after: number, notFrom: Incarnation, timeoutMs: number): Promise<Ack>;
  /**
   * The longest stretch without any acknowledged write between `from` and `to` (performance.now()),
   * counting a stretch still open at `to`: an outage after a recovery, e.g. a new leader deposed.
   */
  longestGap(from: number, to: number): number;
  /** Failed writes and connection attempts so far (each is followed by a reconnect). */
  errors(): number;
  /** Stops the clients (waits for their loops) and closes their connections. */
  stop(): Promise<void>;
  /** After stop(): reads every row through `url` and compares with the acknowledgments. */
  verify(): Promise<Verification>;
}

const TABLE = 'failover_bench';
const INSERT = `INSERT INTO ${TABLE} (client, seq) VALUES ($1, $2)`;
const IDENTITY = 'SELECT inet_server_port() AS port, pg_postmaster_start_time()::text AS started';
const RECONNECT_PAUSE_MS = 50;
/** Stretches without an acknowledgment shorter than this are not recorded (the load writes every ~10 ms). */
const GAP_MS = 250;
/** How long the final check tries to reach the endpoint. */
const VERIFY_CONNECT_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `options.clients` clients writing rows `(client, seq)` through `url`, each logging the
 * sequence numbers the server acknowledged. On any error a client drops its connection, waits
 * 50 ms and reconnects; the next write takes the next sequence number (a write in flight at a
 * kill may or may not have committed, so it is not counted either way). The table is created
 * first (dropped if it exists).
 */
export async function startWriteLoad(url: string, options: LoadOptions): Promise<WriteLoad> {
  const config: pg.ClientConfig = {
    connectionString: url,
    connectionTimeoutMillis: options.connectTimeoutMs,
    query_timeout: options.queryTimeoutMs,
    statement_timeout: options.queryTimeoutMs * STATEMENT_TIMEOUT_FACTOR,
    application_name: 'pgfleet-failover-bench',
  };
  await createTable(config, options.queryTimeoutMs * 10);
  const endpoint = new URL(url);

  // Per client: the acknowledged sequence numbers and, at the same index, who acknowledged them.
  const acked: number[][] = Array.from({ length: options.clients }, () => []);
  const ackedBy: number[][] = Array.from({ length: options.clients }, () => []);
  const incarnations: Incarnation[] = [];
  const incarnationIndex = (i: Incarnation) => {
    const known = incarnations.indexOf(i);
    return known >= 0 ? known : incarnations.push(i) - 1;
  };
  let recent: Ack[] = [];
  let errorCount = 0;
  let stopping = false;
  const waiters = new Set<(ack: Ack) => void>();

  // Every stretch of more than GAP_MS without an acknowledgment, as [start, end].
  const gaps: [number, number][] = [];
  let lastAckAt = performance.now();
  const record = (ack: Ack) => {
    if (ack.at - lastAckAt > GAP_MS) gaps.push([lastAckAt, ack.at]);
    lastAckAt = Math.max(lastAckAt, ack.at);
    recent.push(ack);
    if (recent.length > 4096 || recent[0]!.at < ack.at - 2000) recent = recent.filter((a) => a.at >= ack.at - 1000);
    for (const waiter of waiters) waiter(ack);
  };

  async function runClient(id: number): Promise<void> {
    let seq = 0;
    let client: pg.Client | undefined;
    let incarnation: Incarnation = '';
    let incarnationId = -1;
    while (!stopping) {
      if (!client) {
        const fresh = new pg.Client(config);
        fresh.on('error', () => undefined); // the server went away while idle: the next query fails
        try {
          await fresh.connect();
          const r = await fresh.query<{ port: number; started: string }>(IDENTITY);
          incarnation = `${r.rows[0]!.port}@${r.rows[0]!.started}`;
          incarnationId = incarnationIndex(incarnation);
          client = fresh;
        } catch {
          errorCount++;
          drop(fresh);
          await sleep(RECONNECT_PAUSE_MS);
          continue;
        }
      }
      seq++;
      try {
        await client.query(INSERT, [id, seq]);
        acked[id]!.push(seq);
        ackedBy[id]!.push(incarnationId);
        record({ at: performance.now(), incarnation });
      } catch {
        errorCount++;
        drop(client);
        cancelBackend(endpoint, client);
        client = undefined;
        await sleep(RECONNECT_PAUSE_MS);
        continue;
      }
      if (options.pauseMs > 0) await sleep(options.pauseMs);
    }
    if (client) await close(client);
  }

  const loops = Array.from({ length: options.clients }, (_, id) => runClient(id));

  return {
    currentIncarnation: () => recent.at(-1)?.incarnation,
    errors: () => errorCount,
    longestGap(from, to) {
      let longest = lastAckAt < to ? to - Math.max(lastAckAt, from) : 0;
      for (const [start, end] of gaps) {
        if (end <= from || start >= to) continue;
        longest = Math.max(longest, Math.min(end, to) - Math.max(start, from));
      }
      return longest;
    },
    async waitSteady(timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const now = performance.now();
        const lastSecond = recent.filter((a) => a.at >= now - 1000);
        const last = lastSecond.at(-1);
        if (last && now - last.at < 250 && lastSecond.every((a) => a.incarnation === last.incarnation)) {
          return last.incarnation;
        }
        if (now > deadline) throw new Error(`the write load is not steady after ${timeoutMs} ms`);
        await sleep(100);
      }
    },
    firstAckAfter(after, notFrom, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no write acknowledged by a new leader within ${timeoutMs / 1000} s`));
        }, timeoutMs);
        const waiter = (ack: Ack) => {
          if (ack.at < after || ack.incarnation === notFrom) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(ack);
        };
        waiters.add(waiter);
      });
    },
    async stop() {
      stopping = true;
      await Promise.all(loops);
    },
    async verify() {
      const client = await connectWithin(config, VERIFY_CONNECT_MS);
      try {
        const r = await client.query<{ client: number; seq: number }>({
          text: `SELECT client, seq FROM ${TABLE}`,
          rowMode: 'array',
          query_timeout: 120_000,
        } as pg.QueryConfig);
        const present = acked.map(() => new Set<number>());
        for (const row of r.rows as unknown as [number, number][]) present[row[0]]?.add(row[1]);
        let acknowledged = 0;
        const lostRows: string[] = [];
        const lostByIncarnation: Record<Incarnation, number> = {};
        acked.forEach((seqs, id) => {
          acknowledged += seqs.length;
          seqs.forEach((seq, i) => {
            if (present[id]!.has(seq)) return;
            lostRows.push(`${id}:${seq}`);
            const by = incarnations[ackedBy[id]![i]!]!;
            lostByIncarnation[by] = (lostByIncarnation[by] ?? 0) + 1;
          });
        });
        return {
          acknowledged,
          lost: lostRows.length,
          lostSample: lostRows.slice(0, 10),
          lostByIncarnation,
          unacknowledgedPresent: r.rows.length - (acknowledged - lostRows.length),
        };
      } finally {
        await close(client);
      }
    },
  };
}

/** Creates the load's table through the endpoint, retrying while the cluster is still coming up. */
async function createTable(config: pg.ClientConfig, timeoutMs: number): Promise<void> {
  const client = await connectWithin(config, timeoutMs).catch((error: unknown) => {
    throw new Error(`cannot create ${TABLE} through the endpoint: ${error}`);
  });
  try {
    await client.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await client.query(`CREATE TABLE ${TABLE} (client int NOT NULL, seq int NOT NULL, PRIMARY KEY (client, seq))`);
  } finally {
    await close(client);
  }
}
