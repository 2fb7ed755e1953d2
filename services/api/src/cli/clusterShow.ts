import type { ClusterShown, DiskShown, FailoverShown, NodeShown } from '../http/clusterShown.js';
import { bytes, duration, table } from './format.js';

/** `pgfleet cluster show NAME` as text (80 to 120 columns): the cluster, its HA state, its nodes. */

const took = (f: FailoverShown) => (f.durationMs === null ? '' : `, took ${duration(f.durationMs)}`);

/** One line on the last failover: when, from → to, why, how long it took (or where it failed). */
function failoverLine(f: FailoverShown | null): string {
  if (!f) return 'last failover: none';
  const when = f.startedAt ? ` at ${f.startedAt}` : '';
  if (f.status === 'failed') {
    const where = f.error ? ` at step ${f.error.step}: ${f.error.reason}` : '';
    return `last failover: term ${f.term} from ${f.from}${when} (${f.reason}) failed${where}${took(f)}`;
  }
  if (!f.to) return `failover running: term ${f.term} from ${f.from}${when} (${f.reason})`;
  const finishing = f.status === 'running' ? '; the operation is finishing' : '';
  return `last failover: term ${f.term}, ${f.from} → ${f.to}${when} (${f.reason})${took(f)}${finishing}`;
}

/** `disk: 31 MiB / 10 GiB (0%)`, and over the limit what happens to writes. */
function diskLine(d: DiskShown): string {
  if (d.used === null) return `disk: not measured yet / ${bytes(d.limit)}`;
  const percent = d.limit > 0 ? ` (${Math.floor((d.used / d.limit) * 100)}%)` : '';
  const over = d.over ? `, over quota since ${d.overSince ?? 'unknown'}: writes go on (plan: ${d.onOverQuota})` : '';
  return `disk: ${bytes(d.used)} / ${bytes(d.limit)}${percent}${over}`;
}

function lagOf(n: NodeShown, leader: string | undefined): string {
  if (n.lagBytes !== null) return bytes(n.lagBytes);
  return n.nodeId === leader ? '' : 'unknown';
}

/** ` (closest spread: 3 nodes on 2 hosts)` when fewer hosts than things placed. */
function spreadOf(count: number, hosts: number, what: string): string {
  if (count <= 1 || hosts >= count) return '';
  return ` (closest spread: ${count} ${what} on ${hosts} host${hosts === 1 ? '' : 's'})`;
}

/**
 * Where the nodes and gateways run, on a runtime with hosts (docker): `node1 on unix:///…/podman.sock,
 * container pgfleet-…`, `gw1 on unix:///…, serving 127.0.0.1:7000` (gateways once placed).
 */
function placementLines(c: ClusterShown): string[] {
  const placed = c.nodes.filter((n) => n.host !== undefined || n.container !== undefined);
  if (placed.length === 0) return [];
  const gateways = c.gateways.filter((g) => g.host !== undefined);
  const gatewayHosts = new Set(gateways.map((g) => g.host)).size;
  return [
    `placement:${spreadOf(placed.length, new Set(placed.map((n) => n.host)).size, 'nodes')}`,
    ...placed.map(
      (n) => `  ${n.nodeId} on ${n.host ?? 'unknown host'}${n.container ? `, container ${n.container}` : ''}`,
    ),
    ...(gateways.length > 0 ? [`gateways:${spreadOf(gateways.length, gatewayHosts, 'gateways')}`] : []),
    ...gateways.map((g) => `  ${g.gatewayId} on ${g.host}, serving ${g.address}`),
  ];
}

function nodesTable(c: ClusterShown): string {
  const rows = c.nodes.map((n) => [
    n.nodeId,
    n.role,
    n.state,
    n.health ?? 'unknown',
    n.port,
    n.timeline,
    lagOf(n, c.leader),
    n.replication ?? '',
    n.fenced ? 'yes' : 'no',
  ]);
  return table(['NODE', 'ROLE', 'STATE', 'HEALTH', 'PORT', 'TL', 'LAG', 'SYNC', 'FENCED'], rows);
}

export function renderCluster(c: ClusterShown): string {
  const failure = c.failureReason ? `: ${c.failureReason}` : '';
  const timeline = c.timeline === null ? '' : `, timeline ${c.timeline}`;
  const lines = [
    `cluster ${c.name} (${c.clusterId}) plan ${c.plan}, PostgreSQL ${c.version}, ${c.status}${failure}`,
    `durability ${c.durability}, failover term ${c.term}${timeline}`,
    failoverLine(c.lastFailover),
  ];
  if (c.disk) lines.push(diskLine(c.disk));
  const extensions = Object.entries(c.extensions).map(([name, version]) => `${name} ${version}`);
  lines.push(`extensions: ${extensions.join(', ') || 'none enabled'}`);
  if (c.syncDegradedAt) {
    lines.push(`synchronous replication degraded since ${c.syncDegradedAt}: writes are not acknowledged by a follower`);
  }
  if (c.nodeStatusError) lines.push(`${c.nodeStatusError} (nodes as last recorded)`);
  lines.push(nodesTable(c), ...placementLines(c));
  const d = c.dataLossFailover;
  if (d) {
    const nodes = d.candidates.length > 0 ? `   (NODE: ${d.candidates.join(', ')})` : '';
    lines.push(
      `note: ${d.reason}`,
      '  with durability available, a follower that may miss acknowledged commits is promoted only with:',
      `  ${d.command}${nodes}`,
    );
  }
  for (const f of c.handlingFailures ?? []) {
    lines.push(`parked: ${f.eventType} ${f.eventId} given up by ${f.consumer}${f.at ? ` at ${f.at}` : ''}: ${f.error}`);
  }
  return lines.join('\n');
}
