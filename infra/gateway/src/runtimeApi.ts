import { connect } from 'node:net';
import { GatewayError } from './errors.js';
import { BACKEND, READ_ONLY_BACKEND } from './haproxyConfig.js';
import { safeId } from './gatewayFiles.js';

export type ServerAdminState = 'ready' | 'drain' | 'maint';
/** HAProxy's operational state of a server: down, starting (slowstart), up, stopping. */
export type ServerOpState = 'down' | 'starting' | 'up' | 'stopping';

export interface ServerState {
  backend: string;
  server: string;
  address: string;
  port: number;
  op: ServerOpState;
  admin: ServerAdminState;
  /** Raw `srv_admin_state` bits (1 forced maint, 2 inherited, 4 from config, 8/16 drain, 32/64 resolution). */
  adminBits: number;
  /** The server has an agent check (`agent-check`): its last answer counts besides the health check. */
  agent?: boolean;
}

const OP: Record<string, ServerOpState> = { '0': 'down', '1': 'starting', '2': 'up', '3': 'stopping' };
// 0x04 (maintenance set by the config's `disabled`) stays set after `state ready` clears 0x01: it
// only records the origin, so it does not count as maintenance here.
const MAINT_BITS = 0x01 | 0x02 | 0x20 | 0x40;
const DRAIN_BITS = 0x08 | 0x10;

/** Parse `show servers state [backend]` (format version 1): columns are named by its header line. */
export function parseServersState(text: string): ServerState[] {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const header = lines.find((l) => l.startsWith('# '));
  if (!header)
    throw new GatewayError(
      'RUNTIME_COMMAND_FAILED',
      `unexpected reply to "show servers state": ${text.trim().slice(0, 200)}`,
    );
  const cols = header.slice(2).split(/\s+/);
  const at = (row: string[], name: string) => row[cols.indexOf(name)] ?? '';
  return lines
    .filter((l) => !l.startsWith('#') && l.includes(' '))
    .map((l) => {
      const row = l.split(/\s+/);
      const bits = Number(at(row, 'srv_admin_state'));
      return {
        backend: at(row, 'be_name'),
        server: at(row, 'srv_name'),
        address: at(row, 'srv_addr'),
        port: Number(at(row, 'srv_port')),
        op: OP[at(row, 'srv_op_state')] ?? 'down',
        admin: bits & MAINT_BITS ? 'maint' : bits & DRAIN_BITS ? 'drain' : 'ready',
        adminBits: bits,
        agent: !['', '-'].includes(at(row, 'srv_agent_addr')),
      } satisfies ServerState;
    });
}

export interface SwitchLeaderOptions {
  /**
   * What happens to open sessions on the servers that stop being the leader:
   * - 'shutdown' (default): they go to maintenance and, with `on-marked-down shutdown-sessions`,
   *   their sessions are cut, so clients reconnect through the gateway and reach the new leader
   *   (the old one is demoted, read-only or dead after a switchover or failover).
   * - 'keep': they go to drain: no new sessions, open ones carry on until they end or the
   *   server fails its health check.
   */
  oldSessions?: 'shutdown' | 'keep';
}

/**
 * The commands that make `leader` the only server taking new sessions, in order: first take the
 * others out (never two writable targets), then enable the leader. Empty when nothing changes,
 * so re-asserting the current leader never touches its sessions. Pure.
 */
export function switchLeaderCommands(
  servers: readonly ServerState[],
  leader: string,
  options: SwitchLeaderOptions = {},
): string[] {
  const target: ServerAdminState = options.oldSessions === 'keep' ? 'drain' : 'maint';
  if (!servers.some((s) => s.server === leader)) {
    throw new GatewayError('UNKNOWN_SERVER', `node "${leader}" is not a server of the gateway`, { leader });
  }
  const out: string[] = [];
  for (const s of servers) {
    if (s.server === leader || s.admin === 'maint' || s.admin === target) continue;
    out.push(`set server ${s.backend}/${s.server} state ${target}`);
  }
  const l = servers.find((s) => s.server === leader);
  if (l && l.admin !== 'ready') out.push(`set server ${l.backend}/${l.server} state ready`);
  return out;
}

/** Where a gateway sends new sessions, applied at runtime by `HaproxyRuntimeApi.route`. */
export interface GatewayRoutes {
  /** The only server of `be_pg` taking new sessions; none: every server of `be_pg` in maintenance. */
  leader?: string;
  /** The servers of `be_ro` taking new sessions (a gateway without `be_ro` has none to route). */
  readOnly: readonly string[];
}

/**
 * The commands that bring `be_pg` (and `be_ro`, when the gateway has it) to `routes`, in order:
 * first every server that must stop taking sessions goes to maintenance and has its open sessions
 * shut, then the servers that must take sessions are made ready. Never two writable targets, and
 * empty when nothing changes (a server already where it belongs is not touched). Pure.
 */
export function routeCommands(servers: readonly ServerState[], routes: GatewayRoutes): string[] {
  const wanted = new Map<string, ReadonlySet<string>>([[BACKEND, new Set(routes.leader ? [routes.leader] : [])]]);
  if (servers.some((s) => s.backend === READ_ONLY_BACKEND)) wanted.set(READ_ONLY_BACKEND, new Set(routes.readOnly));
  for (const [backend, names] of wanted) {
    for (const name of names) {
      if (servers.some((s) => s.backend === backend && s.server === name)) continue;
      throw new GatewayError('UNKNOWN_SERVER', `node "${name}" is not a server of ${backend}`, { backend, name });
    }
  }
  const outs: string[] = [];
  const ins: string[] = [];
  for (const s of servers) {
    const want = wanted.get(s.backend);
    if (!want) continue;
    const target = `${s.backend}/${s.server}`;
    if (want.has(s.server)) {
      if (s.admin !== 'ready') ins.push(`set server ${target} state ready`);
      // A new leader's agent said "down" while it was a standby: up now, not at the agent's next check.
      if (s.admin !== 'ready' && s.agent && s.backend === BACKEND) ins.push(`set server ${target} agent up`);
    } else if (s.admin !== 'maint') {
      outs.push(`set server ${target} state maint`, `shutdown sessions server ${target}`);
    }
  }
  return [...outs, ...ins];
}

/** HAProxy's runtime API on a gateway's stats socket: plain-text commands, one connection each. */
export class HaproxyRuntimeApi {
  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 5000,
  ) {}

  /** Send one line (commands may be joined with "; ") and return HAProxy's full reply. */
  command(line: string): Promise<string> {
    if (/[\r\n]/.test(line)) throw new GatewayError('RUNTIME_COMMAND_FAILED', 'a runtime API command is a single line');
    return new Promise((resolve, reject) => {
      const sock = connect(this.socketPath);
      let out = '';
      const timer = setTimeout(() => {
        sock.destroy();
        reject(
          new GatewayError(
            'RUNTIME_API_UNAVAILABLE',
            `HAProxy runtime API at ${this.socketPath} did not answer in ${this.timeoutMs} ms`,
          ),
        );
      }, this.timeoutMs);
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => (out += d));
      sock.on('error', (err) => {
        clearTimeout(timer);
        reject(
          new GatewayError(
            'RUNTIME_API_UNAVAILABLE',
            `HAProxy runtime API at ${this.socketPath} is unreachable: ${err.message}`,
          ),
        );
      });
      sock.on('end', () => {
        clearTimeout(timer);
        resolve(out);
      });
      sock.write(`${line}\n`);
    });
  }

  /** Run commands that print nothing on success; any text in the reply is HAProxy's error. */
  async run(commands: readonly string[]): Promise<void> {
    if (commands.length === 0) return;
    const reply = (await this.command(commands.join('; '))).trim();
    if (reply !== '')
      throw new GatewayError(
        'RUNTIME_COMMAND_FAILED',
        `HAProxy refused "${commands.join('; ')}": ${reply.split('\n')[0]}`,
        { reply },
      );
  }

  async serversState(backend = BACKEND): Promise<ServerState[]> {
    return parseServersState(await this.command(`show servers state ${safeId(backend, 'backend')}`));
  }

  /** The servers of every backend of the gateway. */
  async allServersState(): Promise<ServerState[]> {
    return parseServersState(await this.command('show servers state'));
  }

  /** Apply `routes` without a reload (see routeCommands); returns the commands sent. */
  async route(routes: GatewayRoutes): Promise<{ commands: string[] }> {
    const commands = routeCommands(await this.allServersState(), routes);
    await this.run(commands);
    return { commands };
  }

  async setServerState(server: string, state: ServerAdminState, backend = BACKEND): Promise<void> {
    await this.run([`set server ${safeId(backend, 'backend')}/${safeId(server, 'server')} state ${state}`]);
  }

  /** Cut every open session of one server now. */
  async shutdownSessions(server: string, backend = BACKEND): Promise<void> {
    await this.run([`shutdown sessions server ${safeId(backend, 'backend')}/${safeId(server, 'server')}`]);
  }

  /** Route new sessions to `leader` only, without a reload; see SwitchLeaderOptions for old sessions. */
  async switchLeader(
    leader: string,
    options: SwitchLeaderOptions = {},
    backend = BACKEND,
  ): Promise<{ commands: string[] }> {
    const commands = switchLeaderCommands(await this.serversState(backend), safeId(leader, 'leader'), options);
    await this.run(commands);
    return { commands };
  }

  /** The server currently taking new sessions (ready), if exactly one is. */
  async leader(backend = BACKEND): Promise<string | undefined> {
    const ready = (await this.serversState(backend)).filter((s) => s.admin === 'ready');
    return ready.length === 1 ? ready[0]?.server : undefined;
  }
}
