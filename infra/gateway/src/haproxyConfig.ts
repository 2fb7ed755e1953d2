import { isIP } from 'node:net';
import { isAbsolute } from 'node:path';
import { GatewayError } from './errors.js';
import { gatewayFiles, safeId } from './gatewayFiles.js';

/** The frontend and backend names every gateway uses (the runtime API addresses `be_pg/NODE`). */
export const FRONTEND = 'fe_pg';
export const BACKEND = 'be_pg';
/** The read-only endpoint's frontend and backend (the followers, round robin): `be_ro/NODE`. */
export const READ_ONLY_FRONTEND = 'fe_ro';
export const READ_ONLY_BACKEND = 'be_ro';

export interface GatewayBind {
  /** An IP literal (127.0.0.1, 0.0.0.0, ::1, an address on a veth...). */
  host: string;
  port: number;
}

export interface GatewayNode {
  nodeId: string;
  /** IP literal or host name of the node. */
  host: string;
  port: number;
}

export interface GatewayTimeouts {
  connectMs: number;
  /** Idle time allowed on an established session, each side (PostgreSQL sessions are long-lived). */
  clientMs: number;
  serverMs: number;
  checkMs: number;
}

export interface GatewayHealthCheck {
  intervalMs: number;
  /** Consecutive failed checks before a server is marked down (its sessions are then shut). */
  fall: number;
  /** Consecutive good checks before a down server is up again. */
  rise: number;
}

/**
 * The read-only endpoint: a second frontend on its own addresses, serving `nodeIds` (the followers)
 * round robin; the other nodes are servers of it too, in maintenance.
 */
export interface GatewayReadOnly {
  binds: GatewayBind[];
  nodeIds: string[];
}

/**
 * An agent HAProxy asks about every server (HAProxy's agent check): every `intervalMs` it connects
 * to host:port, sends `{clusterId} {nodeId} rw` (write backend) or `... ro` (read-only backend) and a
 * newline, and reads one line. `down` marks the server down (its sessions shut), `up` lets it up
 * again when its health check passes; an agent that cannot be reached, or answers nothing, changes
 * nothing (HAProxy only acts on an answer).
 */
export interface GatewayAgent {
  /** IP literal or host name. */
  host: string;
  port: number;
  /** Default 500 ms. */
  intervalMs?: number;
}

/** Everything one gateway's HAProxy config is made of. */
export interface HaproxyConfigSpec {
  clusterId: string;
  gatewayId: string;
  /** Addresses the gateway listens on (several gateways may bind the same one: SO_REUSEPORT). */
  binds: GatewayBind[];
  /** Every node of the cluster; only the leader takes traffic. */
  nodes: GatewayNode[];
  /**
   * The node clients are routed to; undefined while the cluster has no leader, or while a
   * failover fenced it and promoted nobody yet (all disabled).
   */
  leaderNodeId?: string;
  /** The read-only endpoint; none when absent. */
  readOnly?: GatewayReadOnly;
  /** The agent every server line asks (`agent-check`); no agent check when absent. */
  agent?: GatewayAgent;
  /** Absolute run directory: pid file and stats socket live there. */
  runDir: string;
  maxConn?: number;
  /** HAProxy threads (a gateway forwards one cluster's connections: 1 is plenty). */
  threads?: number;
  timeouts?: Partial<GatewayTimeouts>;
  check?: Partial<GatewayHealthCheck>;
  /** Bound on how long a replaced process (after a seamless reload) keeps serving old sessions. */
  hardStopAfterMs?: number;
  /**
   * Node host names resolved again while running, through the resolv.conf's servers (a container
   * network's DNS, where a restarted node may come back on another address); default: at start only.
   */
  resolveAtRuntime?: boolean;
}

export const DEFAULT_TIMEOUTS: GatewayTimeouts = {
  connectMs: 5000,
  clientMs: 3_600_000,
  serverMs: 3_600_000,
  checkMs: 2000,
};
export const DEFAULT_CHECK: GatewayHealthCheck = { intervalMs: 2000, fall: 3, rise: 2 };
export const DEFAULT_AGENT_INTERVAL_MS = 500;
const DOWN_CHECK_MS = 250;
const RESOLVERS = 'pgfleet';

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

function invalid(message: string, details: Record<string, unknown> = {}): never {
  throw new GatewayError('INVALID_GATEWAY_CONFIG', message, details);
}

const port = (p: number, what: string) => {
  if (!Number.isInteger(p) || p < 1 || p > 65535) invalid(`${what} port ${p} must be an integer in 1..65535`);
  return p;
};

const positive = (n: number, what: string) => {
  if (!Number.isInteger(n) || n <= 0) invalid(`${what} must be a positive integer, got ${n}`);
  return n;
};

/** HAProxy address syntax: `ipv6@` prefix for v6 literals so the last colon is the port. */
function address(host: string, p: number): string {
  return isIP(host) === 6 ? `ipv6@${host}:${p}` : `${host}:${p}`;
}

/**
 * Render the HAProxy 2.6 config of one cluster gateway (TCP mode). Pure: same spec, same text.
 * All nodes are servers of `be_pg`; only the leader is enabled, the others start `disabled`
 * (maintenance) and the runtime API switches them without a reload. With a read-only endpoint,
 * all nodes are servers of `be_ro` too (`balance roundrobin`), only its `nodeIds` enabled. A server
 * marked down by its health check (or its agent), or put in maintenance, has its sessions shut so
 * clients reconnect. Throws GatewayError INVALID_GATEWAY_CONFIG on a spec HAProxy would not run safely.
 */
export function renderHaproxyConfig(spec: HaproxyConfigSpec): string {
  safeId(spec.clusterId, 'clusterId');
  safeId(spec.gatewayId, 'gatewayId');
  if (!isAbsolute(spec.runDir) || /[\s"'#\\]/.test(spec.runDir))
    invalid(`runDir "${spec.runDir}" must be an absolute path without spaces, quotes or "#"`);
  const files = gatewayFiles(spec.runDir); // its socket fits the kernel's limit (a short path when the run dir is deep)
  if (spec.binds.length === 0) invalid('a gateway needs at least one bind address');
  for (const b of spec.binds) {
    if (isIP(b.host) === 0) invalid(`bind host "${b.host}" must be an IP address`);
    port(b.port, `bind ${b.host}`);
  }
  if (spec.nodes.length === 0) invalid('a gateway needs at least one node');
  const seen = new Set<string>();
  for (const n of spec.nodes) {
    safeId(n.nodeId, 'nodeId');
    if (seen.has(n.nodeId)) invalid(`node "${n.nodeId}" is listed twice`);
    seen.add(n.nodeId);
    if (isIP(n.host) === 0 && !HOST_NAME.test(n.host))
      invalid(`node "${n.nodeId}" host "${n.host}" is neither an IP address nor a host name`);
    port(n.port, `node ${n.nodeId}`);
  }
  if (spec.leaderNodeId !== undefined && !seen.has(spec.leaderNodeId)) {
    invalid(`leader "${spec.leaderNodeId}" is not one of the gateway's nodes`, { leaderNodeId: spec.leaderNodeId });
  }
  if (spec.readOnly) validReadOnly(spec.readOnly, spec.binds, seen);
  if (spec.agent) validAgent(spec.agent);
  const t = { ...DEFAULT_TIMEOUTS, ...spec.timeouts };
  const c = { ...DEFAULT_CHECK, ...spec.check };
  for (const [k, v] of Object.entries(t)) positive(v, `timeouts.${k}`);
  for (const [k, v] of Object.entries(c)) positive(v, `check.${k}`);
  const maxConn = positive(spec.maxConn ?? 1000, 'maxConn');
  const threads = positive(spec.threads ?? 1, 'threads');
  if (spec.hardStopAfterMs !== undefined) positive(spec.hardStopAfterMs, 'hardStopAfterMs');

  // A server that is down is checked every DOWN_CHECK_MS: a leader back from a restart or an upgrade
  // takes writes again within rise × that, not rise × the interval (4 s by default).
  const defaultServer =
    `  default-server inter ${c.intervalMs}ms downinter ${Math.min(DOWN_CHECK_MS, c.intervalMs)}ms` +
    ` fall ${c.fall} rise ${c.rise}` +
    ' on-marked-down shutdown-sessions init-addr libc,none' +
    (spec.resolveAtRuntime ? ` resolvers ${RESOLVERS} resolve-prefer ipv4` : '');
  /** One server line per node: checked, asking the agent (if any), enabled only when `enabled`. */
  const servers = (mode: 'rw' | 'ro', enabled: (nodeId: string) => boolean) =>
    spec.nodes.map(
      (n) =>
        `  server ${n.nodeId} ${address(n.host, n.port)} check` +
        (spec.agent ? ` ${agentCheck(spec.agent, spec.clusterId, n.nodeId, mode)}` : '') +
        (enabled(n.nodeId) ? '' : ' disabled'),
    );
  const readOnly = spec.readOnly;
  const lines = [
    `# pgfleet gateway ${spec.gatewayId} of cluster ${spec.clusterId} (generated; edits are overwritten)`,
    'global',
    `  pidfile ${files.pid}`,
    // admin level for `set server ... state`; expose-fd lets a reload (-x) take over the listeners.
    `  stats socket ${files.socket} mode 600 level admin expose-fd listeners`,
    '  stats timeout 30s',
    `  maxconn ${maxConn}`,
    `  nbthread ${threads}`,
    ...(spec.hardStopAfterMs !== undefined ? [`  hard-stop-after ${spec.hardStopAfterMs}ms`] : []),
    '',
    ...(spec.resolveAtRuntime
      ? [`resolvers ${RESOLVERS}`, '  parse-resolv-conf', '  hold valid 2s', '  timeout resolve 1s', '']
      : []),
    'defaults',
    '  mode tcp',
    '  option dontlognull',
    // TCP keepalives find dead peers of idle PostgreSQL sessions long before the idle timeouts.
    '  option clitcpka',
    '  option srvtcpka',
    `  timeout connect ${t.connectMs}ms`,
    `  timeout client ${t.clientMs}ms`,
    `  timeout server ${t.serverMs}ms`,
    `  timeout check ${t.checkMs}ms`,
    '',
    `frontend ${FRONTEND}`,
    // HAProxy sets SO_REUSEPORT on Linux unless `noreuseport`: gateways may share an address.
    ...spec.binds.map((b) => `  bind ${address(b.host, b.port)}`),
    `  default_backend ${BACKEND}`,
    '',
    `backend ${BACKEND}`,
    '  balance first',
    defaultServer,
    ...servers('rw', (nodeId) => nodeId === spec.leaderNodeId),
    '',
    ...(readOnly
      ? [
          `frontend ${READ_ONLY_FRONTEND}`,
          ...readOnly.binds.map((b) => `  bind ${address(b.host, b.port)}`),
          `  default_backend ${READ_ONLY_BACKEND}`,
          '',
          `backend ${READ_ONLY_BACKEND}`,
          '  balance roundrobin',
          // A follower that refuses the connection (dead, not yet marked down): retry on another one.
          '  option redispatch 1',
          defaultServer,
          ...servers('ro', (nodeId) => readOnly.nodeIds.includes(nodeId)),
          '',
        ]
      : []),
  ];
  return lines.join('\n');
}

/**
 * The agent check of one server: HAProxy sends `{clusterId} {nodeId} {mode}\n` to the agent and
 * acts on its one-line answer. Ids are safe ids (letters, digits, "_", "-"): nothing to escape.
 */
function agentCheck(agent: GatewayAgent, clusterId: string, nodeId: string, mode: 'rw' | 'ro'): string {
  const inter = agent.intervalMs ?? DEFAULT_AGENT_INTERVAL_MS;
  return (
    `agent-check agent-addr ${agent.host} agent-port ${agent.port} agent-inter ${inter}ms ` +
    `agent-send "${clusterId} ${nodeId} ${mode}\\n"`
  );
}

function validReadOnly(readOnly: GatewayReadOnly, writeBinds: readonly GatewayBind[], nodes: ReadonlySet<string>) {
  if (readOnly.binds.length === 0) invalid('a read-only endpoint needs at least one bind address');
  const writePorts = new Set(writeBinds.map((b) => b.port));
  for (const b of readOnly.binds) {
    if (isIP(b.host) === 0) invalid(`read-only bind host "${b.host}" must be an IP address`);
    port(b.port, `read-only bind ${b.host}`);
    // Two frontends of one process on one port would share it (SO_REUSEPORT): writes could reach followers.
    if (writePorts.has(b.port)) invalid(`read-only port ${b.port} is also the write port`, { port: b.port });
  }
  for (const nodeId of readOnly.nodeIds) {
    if (!nodes.has(nodeId)) invalid(`read-only node "${nodeId}" is not one of the gateway's nodes`, { nodeId });
  }
}

function validAgent(agent: GatewayAgent) {
  if (isIP(agent.host) === 0 && !HOST_NAME.test(agent.host))
    invalid(`agent host "${agent.host}" is neither an IP address nor a host name`);
  port(agent.port, 'agent');
  if (agent.intervalMs !== undefined) positive(agent.intervalMs, 'agent.intervalMs');
}
