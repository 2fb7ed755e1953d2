import pg from 'pg';

/**
 * How to reach a node: `host` is 127.0.0.1 (TCP) or a directory holding the unix socket
 * (e.g. the node's socket dir: the superuser is trusted there).
 */
export interface NodeConn {
  host: string;
  port: number;
  user?: string;
  password?: string;
  database?: string;
  /** Give up connecting after this long (default 10 s); a frozen server accepts and never answers. */
  connectTimeoutMs?: number;
  /** Give up on a query after this long (client side; default none). */
  queryTimeoutMs?: number;
}

/** Something that runs SQL: a pg Client or Pool. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export type SqlTarget = NodeConn | Queryable;

const isQueryable = (t: SqlTarget): t is Queryable => typeof (t as Queryable).query === 'function';

/** Run `fn` with a client: the given one, or a short-lived connection to `conn` (closed after). */
export async function withClient<T>(target: SqlTarget, fn: (q: Queryable) => Promise<T>): Promise<T> {
  if (isQueryable(target)) return fn(target);
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: target.user ?? 'postgres',
    password: target.password,
    database: target.database ?? 'postgres',
    connectionTimeoutMillis: target.connectTimeoutMs ?? 10000,
    ...(target.queryTimeoutMs !== undefined ? { query_timeout: target.queryTimeoutMs } : {}),
  });
  // A server that dies under an idle connection emits 'error' on it: the caller learns it from its
  // next query; unhandled, it would end the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/;

/** A role/database/standby name as a quoted SQL identifier; rejects anything unusual. */
export function quoteIdent(name: string): string {
  if (!NAME.test(name))
    throw new Error(`"${name}" is not a valid name: 1-63 letters, digits, "_" or "-", starting with a letter or "_"`);
  return `"${name}"`;
}

/** A SQL string literal (standard_conforming_strings is on). */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
