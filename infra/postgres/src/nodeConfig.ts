import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Plan } from '@pgfleet/contracts';

/** TLS material of a node (paths readable by the postgres OS user); the Networking issue provides it. */
export interface NodeTls {
  certFile: string;
  keyFile: string;
  caFile?: string;
}

export interface NodeConfigInput {
  /** Sizing comes from the plan: memory and connection limit. */
  plan: Pick<Plan, 'memoryMb' | 'maxConnections'>;
  port: number;
  dataDir: string;
  /** Where the unix socket lives; defaults to `nodeSocketDir(dataDir)`. */
  socketDir?: string;
  /** Shown in process titles and used as the walreceiver's application_name. */
  clusterName?: string;
  maxWalSenders?: number;
  maxReplicationSlots?: number;
  walKeepSizeMb?: number;
  tls?: NodeTls;
  /** Extra settings appended last (values rendered as given: quote strings yourself or use `pgString`). */
  extra?: Readonly<Record<string, string | number | boolean>>;
}

/** The longest unix socket path the kernel accepts (sun_path is 108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * The unix socket directory of a node: `{dataDir}.run` beside its data directory when the socket
 * path fits the kernel's limit, else a short per-data-directory path under /tmp. Never inside the
 * data directory: pg_rewind copies every file of the source's and cannot read a socket.
 * Deterministic, so every reader finds the same directory.
 */
export function nodeSocketDir(dataDir: string): string {
  const beside = `${dataDir}.run`;
  if (`${beside}/.s.PGSQL.65535`.length <= MAX_SOCKET_PATH) return beside;
  return `/tmp/pgfleet-sock/${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}`;
}

/** A PostgreSQL configuration string literal: `'value'` with quotes doubled. */
export function pgString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

const mb = (n: number) => `'${Math.max(1, Math.floor(n))}MB'`;

/**
 * postgresql.conf settings for a node, sized from its plan: shared_buffers 25 % of memory,
 * effective_cache_size 75 %, work_mem from the memory left per connection, maintenance_work_mem
 * 1/16 (64 MB..2 GB); streaming replication on (replica WAL, hot standby, slots), with replication
 * timeouts of a few seconds. Pure.
 */
export function nodeSettings(input: NodeConfigInput): Record<string, string> {
  const { memoryMb, maxConnections } = input.plan;
  const socketDir = input.socketDir ?? nodeSocketDir(input.dataDir);
  const s: Record<string, string> = {
    listen_addresses: pgString('127.0.0.1'),
    port: String(input.port),
    unix_socket_directories: pgString(socketDir),
    max_connections: String(maxConnections),
    shared_buffers: mb(memoryMb * 0.25),
    effective_cache_size: mb(memoryMb * 0.75),
    work_mem: `'${Math.max(1024, Math.floor((memoryMb * 0.75 * 1024) / (maxConnections * 3)))}kB'`,
    maintenance_work_mem: mb(Math.min(2048, Math.max(64, memoryMb / 16))),
    password_encryption: 'scram-sha-256',
    wal_level: 'replica',
    wal_log_hints: 'on',
    hot_standby: 'on',
    hot_standby_feedback: 'on',
    max_wal_senders: String(input.maxWalSenders ?? 10),
    max_replication_slots: String(input.maxReplicationSlots ?? 10),
    wal_keep_size: mb(input.walKeepSizeMb ?? 256),
    // A silent peer is noticed in seconds, not a minute: a frozen leader's followers stop streaming
    // (one of the two signs of a lost leader), and a frozen follower leaves the leader's standbys.
    wal_receiver_timeout: pgString('2s'),
    wal_receiver_status_interval: pgString('1s'),
    wal_sender_timeout: pgString('3s'),
    // A standby whose upstream went away (switchover, failover, repointed) tries streaming again
    // each second rather than every 5 s: writes waiting for a synchronous standby resume sooner.
    wal_retrieve_retry_interval: pgString('1s'),
    logging_collector: 'on',
    log_directory: pgString('log'),
    log_filename: pgString('postgresql.log'),
    log_file_mode: '0600',
    log_line_prefix: pgString('%m [%p] %q%u@%d '),
    log_timezone: pgString('UTC'),
    timezone: pgString('UTC'),
  };
  if (input.clusterName) s.cluster_name = pgString(input.clusterName);
  if (input.tls) {
    s.ssl = 'on';
    s.ssl_cert_file = pgString(input.tls.certFile);
    s.ssl_key_file = pgString(input.tls.keyFile);
    if (input.tls.caFile) s.ssl_ca_file = pgString(input.tls.caFile);
  } else {
    s.ssl = 'off';
  }
  for (const [k, v] of Object.entries(input.extra ?? {}))
    s[k] = typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v);
  return s;
}

/** First line of every postgresql.conf pgfleet writes (marks a completely set-up data directory). */
export const NODE_CONFIG_MARKER = '# postgresql.conf written by pgfleet';

/** The whole postgresql.conf text of a node (it replaces initdb's sample file). */
export function renderNodeConfig(input: NodeConfigInput): string {
  const lines = Object.entries(nodeSettings(input)).map(([k, v]) => `${k} = ${v}`);
  return `${NODE_CONFIG_MARKER}; ALTER SYSTEM settings live in postgresql.auto.conf\n${lines.join('\n')}\n`;
}

/**
 * The settings of a node's postgresql.conf (as `renderNodeConfig` writes them: one `name = value`
 * a line), string values unquoted. Empty when the file is missing.
 */
export function readNodeSettings(dataDir: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(join(dataDir, 'postgresql.conf'), 'utf8');
  } catch {
    return {};
  }
  const settings: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([a-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    const value = m[2]!;
    settings[m[1]!] = /^'.*'$/.test(value) ? value.slice(1, -1).replace(/''/g, "'") : value;
  }
  return settings;
}

/** The server log file of a node (logging_collector writes it inside the data directory). */
export function nodeLogFile(dataDir: string): string {
  return `${dataDir}/log/postgresql.log`;
}
