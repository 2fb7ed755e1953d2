import { runningOperation, slotName, type ClusterView, type NodeHealth } from '@pgfleet/contracts';

/** One probe of one data node: what its process and its server said (or that it did not answer). */
export interface NodeProbe {
  /** The runtime's view of the node's process: `stopped` means its postmaster is gone. */
  process: 'running' | 'stopped' | 'missing';
  /** The server answered SQL within the probe's timeout. */
  reachable: boolean;
  inRecovery?: boolean;
  timeline?: number;
  /** Standby: its WAL receiver streams from a leader. */
  receiverStreaming?: boolean;
  /** Standby: how long its WAL receiver has heard nothing from its sender. */
  receiverSilentMs?: number;
  /** Standby: the port of the server its WAL receiver streams from. */
  senderPort?: number | null;
  replayLagBytes?: number;
  /** Leader: application names of the standbys streaming from it. */
  streamingStandbys?: string[];
  synchronousStandbyNames?: string;
  error?: string;
}

/** What the watcher remembers of a node between probes (times in ms since the epoch). */
export interface NodeWatch {
  last?: NodeProbe;
  /** First probe of the current run of failed probes (undefined while it answers). */
  unreachableSince?: number;
  /** Leader: since when no standby streams from it (undefined while one does). */
  noStandbySince?: number;
  /** Leader: the standbys that streamed from it at its last successful probe. */
  lastStreaming?: string[];
}

export interface AssessSettings {
  /** How long a leader must stay unreachable before it is declared lost (a dead process needs no grace). */
  graceMs: number;
  /** Replay lag beyond which a follower is `lagging`. */
  lagBytes: number;
  /** `available` durability: how long a leader may wait for a follower before it goes asynchronous. */
  syncGraceMs: number;
}

export type HaAction =
  | { kind: 'health'; nodeId: string; health: NodeHealth; reason?: string; timeline?: number; lagBytes?: number }
  | { kind: 'restart'; nodeId: string; reason: string }
  | { kind: 'failover'; from: string; reason: string; streaming: string[] }
  | { kind: 'rejoin'; nodeId: string; reason: string }
  | { kind: 'degrade'; leader: string; reason: string }
  /** Recorded degraded, but the leader still waits for a follower: set it asynchronous again. */
  | { kind: 'reapply-async'; leader: string }
  | { kind: 'restore'; leader: string; names: string[] };

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * A WAL receiver silent this long no longer streams from a live leader, for the failover decision:
 * an idle receiver asks its sender for a reply after half of `wal_receiver_timeout` (2 s), so a
 * live leader is heard from at least every second; a frozen one is noticed before the receiver
 * times out.
 */
const RECEIVER_SILENCE_MS = 1500;

/** A node's health from its last probe. */
function healthOf(
  view: ClusterView,
  nodeId: string,
  watch: NodeWatch,
  now: number,
  settings: AssessSettings,
): { health: NodeHealth; reason?: string; timeline?: number; lagBytes?: number } | undefined {
  const node = view.nodes.find((n) => n.nodeId === nodeId);
  const probe = watch.last;
  if (!node || !probe) return undefined;
  const running = runningOperation(view.ops);
  if (node.fenced || (running?.kind === 'rejoin' && running.params.nodeId === nodeId)) {
    return { health: 'rejoining', reason: node.fenced ? 'fenced old leader' : 'rejoining' };
  }
  if (!probe.reachable) {
    if (probe.process === 'running' && now - (watch.unreachableSince ?? now) < settings.graceMs) return undefined;
    return { health: 'unreachable', reason: probe.process === 'running' ? probe.error : `server ${probe.process}` };
  }
  const timeline = probe.timeline;
  if (nodeId !== view.leader && probe.inRecovery) {
    if (!probe.receiverStreaming)
      return { health: 'lagging', reason: 'not streaming', ...(timeline ? { timeline } : {}) };
    const lag = probe.replayLagBytes ?? 0;
    if (lag > settings.lagBytes) return { health: 'lagging', reason: 'replay lag', lagBytes: lag, timeline };
    return { health: 'healthy', lagBytes: lag, ...(timeline ? { timeline } : {}) };
  }
  return { health: 'healthy', ...(timeline ? { timeline } : {}) };
}

/**
 * What the HA service should do about one cluster, from its view and the latest probes. Pure:
 * every action is decided again against the stream before anything is done.
 *
 * - Health: recorded when it changes (a running server that stops answering gets the grace first).
 * - A single-node cluster's dead server, or a follower's, is restarted in place.
 * - A leader is lost only when two sources agree: it is dead (its postmaster gone) or has not
 *   answered for `graceMs`, AND no follower's WAL receiver streams any more. Then a failover.
 * - A fenced old leader (or any primary that is not the leader) rejoins once it is stopped or answers.
 * - `available` durability: a leader with no standby streaming for `syncGraceMs` goes asynchronous;
 *   synchronous again as soon as one streams.
 */
export function assessCluster(
  view: ClusterView,
  watches: ReadonlyMap<string, NodeWatch>,
  now: number,
  settings: AssessSettings,
): HaAction[] {
  if (view.status !== 'ready') return [];
  const healthChanges: HaAction[] = [];
  for (const node of view.nodes) {
    const watch = watches.get(node.nodeId);
    const health = watch && healthOf(view, node.nodeId, watch, now, settings);
    if (health && health.health !== node.health) healthChanges.push({ kind: 'health', nodeId: node.nodeId, ...health });
  }
  // Operations move nodes on purpose: nothing else is done to the cluster while one runs. Otherwise
  // what must be done comes first (a failover does not wait for health records).
  if (runningOperation(view.ops)) return healthChanges;
  return [...decide(view, watches, now, settings), ...healthChanges];
}

function decide(
  view: ClusterView,
  watches: ReadonlyMap<string, NodeWatch>,
  now: number,
  settings: AssessSettings,
): HaAction[] {
  const actions: HaAction[] = [];

  const leaderId = view.leader;
  const leader = leaderId ? watches.get(leaderId) : undefined;
  const single = view.nodes.length === 1;
  for (const node of view.nodes) {
    const probe = watches.get(node.nodeId)?.last;
    if (!probe || node.fenced) continue;
    const isLeader = node.nodeId === leaderId;
    if (probe.process === 'stopped' && (single || !isLeader)) {
      actions.push({ kind: 'restart', nodeId: node.nodeId, reason: 'its server was not running' });
    }
  }
  if (single || !leaderId || !leader?.last) return actions;

  const followers = view.nodes.filter((n) => n.nodeId !== leaderId);
  const leaderNode = view.nodes.find((n) => n.nodeId === leaderId);
  const leaderUp = leader.last.reachable && leader.last.inRecovery === false;

  // A fenced old leader, or a primary that is not the leader: it rejoins as a follower.
  if (leaderUp) {
    for (const f of followers) {
      const probe = watches.get(f.nodeId)?.last;
      if (!probe) continue;
      const rogue = probe.reachable && probe.inRecovery === false;
      const ready = probe.process === 'stopped' || probe.reachable;
      if ((f.fenced && ready) || rogue) {
        const reason = rogue
          ? `${f.nodeId} runs as a primary but is not the leader`
          : `${f.nodeId} is a fenced old leader`;
        actions.push({ kind: 'rejoin', nodeId: f.nodeId, reason });
        return actions;
      }
    }
  }

  // The leader lost: dead, or silent past the grace; and no follower streams from it any more.
  if (!leaderNode?.fenced && !leaderUp) {
    const dead = leader.last.process !== 'running';
    const silentFor = now - (leader.unreachableSince ?? now);
    const lost = dead || (!leader.last.reachable && silentFor >= settings.graceMs);
    const probes = followers.map((f) => watches.get(f.nodeId)?.last).filter((p) => p !== undefined);
    const standbys = probes.filter((p) => p.reachable && p.inRecovery);
    const silence = Math.max(settings.graceMs, RECEIVER_SILENCE_MS);
    const stillStreaming = standbys.some((p) => p.receiverStreaming && (p.receiverSilentMs ?? 0) < silence);
    if (lost && standbys.length > 0 && !stillStreaming) {
      const why = dead ? `its server is ${leader.last.process}` : `it has not answered for ${seconds(silentFor)}`;
      const reason = `leader ${leaderId} lost: ${why}, and no follower streams from it`;
      actions.push({ kind: 'failover', from: leaderId, reason, streaming: leader.lastStreaming ?? [] });
    }
    return actions;
  }

  // Synchronous replication with `available` durability.
  if (!leaderUp || !leader.last.streamingStandbys) return actions;
  const streaming = leader.last.streamingStandbys;
  const waitsForStandby = (leader.last.synchronousStandbyNames ?? '') !== '';
  if (view.syncDegradedAt !== undefined) {
    if (streaming.length > 0) {
      actions.push({ kind: 'restore', leader: leaderId, names: followers.map((f) => slotName(f.nodeId)) });
    } else if (waitsForStandby) {
      actions.push({ kind: 'reapply-async', leader: leaderId });
    }
  } else if (view.durability === 'available' && waitsForStandby && streaming.length === 0) {
    const since = leader.noStandbySince ?? now;
    if (now - since >= settings.syncGraceMs) {
      const reason = `no follower has streamed from ${leaderId} for ${seconds(now - since)}`;
      actions.push({ kind: 'degrade', leader: leaderId, reason });
    }
  }
  return actions;
}
