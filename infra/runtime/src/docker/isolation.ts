import { spawn } from 'node:child_process';
import type Docker from 'dockerode';
import { childEnv, withFileLock } from '@pgfleet/postgres';

/**
 * Isolation between cluster networks, enforced on the Docker host itself with nftables: a table of
 * pgfleet's own (`inet pgfleet`) whose forward chain rejects every packet that enters one pgfleet
 * bridge and leaves through another (rejected rather than dropped: a connection fails at once, "no
 * route to host", instead of hanging until its timeout). The engine's own isolation is not enough
 * everywhere (Podman 4.3 with netavark 1.4 adds none for these networks, and forwards and
 * masquerades between them).
 *
 * Why nftables and not iptables rules in FORWARD: a reject in any nftables base chain is final, so the
 * rule needs no place in someone else's chain (netavark, Docker and firewalld insert their own jumps
 * and ACCEPTs at the top of FORWARD, in whichever iptables backend they use), and it runs in the
 * forward hook, before the engine's masquerade in postrouting. One table, changed in atomic
 * transactions, is also removed whole once no pgfleet bridge is left.
 *
 * The bridges are in sets: `bridges` (every pgfleet bridge) and `own` (each bridge paired with
 * itself, the traffic between two containers of one cluster, seen here when br_netfilter is loaded;
 * and, both ways, with the same cluster's bridges of the other Docker hosts sharing this kernel: a
 * multi-host runtime's nodes reach each other through ports published on this machine's address).
 * Those cross-host pairs are also in `cross`, whose traffic a postrouting chain masquerades: a node
 * sees a peer of another local host come from its own network's gateway, as a peer of another
 * machine comes from that machine's address, and pg_hba needs no other host's subnet.
 */
const TABLE = 'inet pgfleet';
/** Held by every change of the table on this machine, so the last removal never deletes a bridge just added. */
const LOCK = '/run/pgfleet-isolation.lock';

export interface NetworkIsolation {
  /**
   * Keep the bridge's traffic from and to every other pgfleet bridge out, except `siblings` (the
   * same cluster's bridges of other hosts on this machine), both ways (idempotent).
   */
  add(bridge: string, siblings?: readonly string[]): Promise<void>;
  /** Forget the bridge; the table goes with the last one (idempotent). */
  remove(bridge: string): Promise<void>;
}

/** Run nft with `args` (`-f -`: `script` on stdin, one atomic transaction); rejects with nft's message. */
function nft(args: readonly string[], script?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = childEnv({ PATH: '/usr/sbin:/usr/bin:/sbin:/bin' });
    const child = spawn('nft', args, { env, stdio: [script === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => reject(new Error(`nft could not run: ${e.message}`)));
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`nft failed (exit ${code}): ${err.trim().split('\n')[0]}`)),
    );
    child.stdin?.on('error', () => undefined); // an nft that exits early is reported by its exit code
    child.stdin?.end(script);
  });
}

/** The bridges the table keeps apart now (none when the table does not exist). */
export async function isolatedBridges(): Promise<string[]> {
  let out: string;
  try {
    out = await nft(['-j', 'list', 'set', ...TABLE.split(' '), 'bridges']);
  } catch (error) {
    if (/No such file or directory/.test((error as Error).message)) return [];
    throw error;
  }
  const items = (JSON.parse(out) as { nftables: { set?: { elem?: string[] } }[] }).nftables;
  return items.flatMap((item) => item.set?.elem ?? []);
}

const quoted = (bridge: string) => {
  if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(bridge)) throw new Error(`bridge "${bridge}" is not an interface name`);
  return `"${bridge}"`;
};

async function addBridge(bridge: string, siblings: readonly string[]): Promise<void> {
  const b = quoted(bridge);
  const cross = siblings.flatMap((s) => [`${b} . ${quoted(s)}`, `${quoted(s)} . ${b}`]);
  // The static part is declared again and its chains flushed and refilled in the same transaction,
  // so a run against a table in any state (missing, half made by an older version) leaves one rule each.
  await nft(
    ['-f', '-'],
    [
      `add table ${TABLE}`,
      `add set ${TABLE} bridges { type ifname; }`,
      `add set ${TABLE} own { type ifname . ifname; }`,
      `add set ${TABLE} cross { type ifname . ifname; }`,
      `add chain ${TABLE} forward { type filter hook forward priority filter - 1; policy accept; }`,
      `flush chain ${TABLE} forward`,
      `add rule ${TABLE} forward iifname @bridges oifname @bridges iifname . oifname != @own` +
        ' reject with icmpx type admin-prohibited comment "between two pgfleet cluster networks"',
      `add chain ${TABLE} postrouting { type nat hook postrouting priority srcnat - 1; policy accept; }`,
      `flush chain ${TABLE} postrouting`,
      `add rule ${TABLE} postrouting iifname . oifname @cross masquerade` +
        ' comment "one cluster over two local hosts: as if from another machine"',
      `add element ${TABLE} bridges { ${b} }`,
      `add element ${TABLE} own { ${[`${b} . ${b}`, ...cross].join(', ')} }`,
      ...(cross.length > 0 ? [`add element ${TABLE} cross { ${cross.join(', ')} }`] : []),
      '',
    ].join('\n'),
  );
}

/** The pairs of set `set` (`own`, `cross`) that name `bridge` on either side, as nft writes them. */
async function pairsOf(set: string, bridge: string): Promise<string[]> {
  let out: string;
  try {
    out = await nft(['-j', 'list', 'set', ...TABLE.split(' '), set]);
  } catch (error) {
    if (/No such file or directory/.test((error as Error).message)) return []; // an older table
    throw error;
  }
  const items = (JSON.parse(out) as { nftables: { set?: { elem?: { concat?: string[] }[] } }[] }).nftables;
  return items
    .flatMap((item) => item.set?.elem ?? [])
    .flatMap((e) => (e.concat?.length === 2 && e.concat.includes(bridge) ? [e.concat.map(quoted).join(' . ')] : []));
}

async function removeBridge(bridge: string): Promise<void> {
  const b = quoted(bridge);
  const bridges = await isolatedBridges();
  if (!bridges.includes(bridge)) return;
  if (bridges.length === 1) {
    await nft(['-f', '-'], `delete table ${TABLE}\n`);
    return;
  }
  const script = [`delete element ${TABLE} bridges { ${b} }`];
  for (const set of ['own', 'cross']) {
    const pairs = await pairsOf(set, bridge);
    if (pairs.length > 0) script.push(`delete element ${TABLE} ${set} { ${pairs.join(', ')} }`);
  }
  await nft(['-f', '-'], `${script.join('\n')}\n`);
}

/** Where the engine runs: a unix socket is this machine; anything else (TCP, ssh) is another. */
function remoteHostOf(docker: Docker): string | undefined {
  const modem = docker.modem as { socketPath?: unknown; host?: string; port?: unknown; protocol?: string };
  if (!modem.host && modem.socketPath) return undefined;
  return `${modem.protocol ?? 'tcp'}://${modem.host ?? 'unknown'}${modem.port ? `:${String(modem.port)}` : ''}`;
}

/**
 * The isolation of `docker`'s cluster networks. Rules are only made for an engine on this machine
 * (a unix socket), best effort: a failure (no nft, not root) is logged once and the driver goes on.
 * For a remote engine pgfleet can add no rules: it says so once, and its networks are as isolated
 * as that engine makes them (Docker's default isolation between bridge networks, or the host's rules).
 */
export function networkIsolation(docker: Docker, log: (line: string) => void): NetworkIsolation {
  const remote = remoteHostOf(docker);
  if (remote !== undefined) {
    log(
      `docker driver: network isolation rules are not applied on the remote docker host ${remote}; ` +
        "clusters there are kept apart only by that engine's own isolation or that host's firewall",
    );
    return { add: async () => undefined, remove: async () => undefined };
  }
  let warned = false;
  const bestEffort = async (fn: () => Promise<void>, failed: (why: string) => string) => {
    try {
      await withFileLock(LOCK, fn, 30_000);
    } catch (error) {
      if (warned) return;
      warned = true;
      log(`docker driver: ${failed((error as Error).message)}`);
    }
  };
  return {
    add: (bridge, siblings = []) =>
      bestEffort(
        () => addBridge(bridge, siblings),
        (why) =>
          `could not isolate bridge ${bridge} with nftables (${why}): ` +
          'containers of other clusters may reach its nodes by address',
      ),
    remove: (bridge) =>
      bestEffort(
        () => removeBridge(bridge),
        (why) => `could not remove the nftables isolation of bridge ${bridge} (${why})`,
      ),
  };
}
