import type { NatsConnection } from '@nats-io/transport-node';
import {
  findPlan,
  foldPitr,
  keptPitrBackups,
  lastPitrBackup,
  pendingPitrBackup,
  lastWindowRestart,
  querySubject,
  restorableWindow,
  streamIds,
  type PitrBackup,
} from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { z } from 'zod';

/** A full backup as `pitr status` shows it. */
const PitrBackupRow = z.object({
  id: z.string(),
  kind: z.string(),
  status: z.string(),
  label: z.string().nullable(),
  requested: z.string(),
  started: z.string().nullable(),
  stopAt: z.string().nullable().describe('the end of the backup: the earliest instant a restore from it reaches'),
  size: z.number().nullable().describe('bytes in the repository'),
  duration: z.number().nullable().describe('milliseconds'),
  node: z.string().nullable(),
  onLeaderReason: z.string().optional(),
  failedReason: z.string().optional(),
});
type PitrBackupRow = z.infer<typeof PitrBackupRow>;

const Instant = z.string().nullable();

/** `GET /v1/clusters/{name}/pitr`: the recoverable window, the archiver, the full backups. */
export const PitrStatus = z.object({
  clusterId: z.string(),
  name: z.string(),
  plan: z.string(),
  pitrDays: z.number(),
  archiving: z.object({
    enabled: z.boolean(),
    enabledAt: Instant,
    stanza: z.string().nullable(),
    health: z.enum(['ok', 'delayed', 'failed', 'unknown']),
    since: Instant,
    reason: z.string().nullable(),
    lagSeconds: z.number().nullable().describe('now minus the last archived WAL while WAL waits; 0 when none waits'),
    lastArchivedAt: Instant,
    pendingSegments: z.number().nullable(),
    live: z.boolean().describe("false: the pitr service did not answer; the stream's last record is shown"),
  }),
  window: z.object({ earliest: z.string(), latest: z.string() }).nullable(),
  lastFullBackup: PitrBackupRow.nullable(),
  runningFullBackup: PitrBackupRow.nullable(),
  nextFullBackupAt: Instant,
  fullBackups: z.array(PitrBackupRow),
  recentFailures: z.array(PitrBackupRow).describe('the last five full backups that failed, newest last'),
  retainedUntil: Instant.describe('a deleted cluster: its archive is kept until then'),
  removed: z.boolean(),
});
export type PitrStatus = z.infer<typeof PitrStatus>;

function row(b: PitrBackup): PitrBackupRow {
  return {
    id: b.backupId,
    kind: b.kind,
    status: b.status,
    label: b.label ?? null,
    requested: b.requestedAt,
    started: b.startedAt ?? null,
    stopAt: b.stopAt ?? null,
    size: b.size ?? null,
    duration: b.durationMs ?? null,
    node: b.node ?? null,
    ...(b.onLeaderReason ? { onLeaderReason: b.onLeaderReason } : {}),
    ...(b.failedReason ? { failedReason: b.failedReason } : {}),
  };
}

interface LiveArchiver {
  archiver: {
    lastArchivedAt: string | null;
    pendingSegments: number;
    lagSeconds: number;
    health: 'ok' | 'delayed' | 'failed';
  } | null;
  nextFullBackupAt: string | null;
}

/** What the pitr service reads live on the leader (`pitr` query PitrArchiver), or undefined. */
async function liveArchiver(nc: NatsConnection, clusterId: string): Promise<LiveArchiver | undefined> {
  try {
    const m = await nc.request(querySubject('pitr', 'PitrArchiver'), JSON.stringify({ clusterId }), { timeout: 5000 });
    const answer = m.json<LiveArchiver & { error?: string }>();
    return answer.error === undefined ? answer : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A cluster's PITR status: a fold of its `pitr-{clusterId}` stream (the contracts' PITR view), with
 * the window's latest end and the lag read live on the leader by the pitr service. Without an
 * answer from it, the last recorded archiver state is shown (`live: false`).
 */
export async function pitrStatus(
  store: EventStore,
  nc: NatsConnection,
  cluster: { clusterId: string; name: string; plan: string },
): Promise<PitrStatus> {
  const { clusterId, name, plan } = cluster;
  const { events } = await store.readStream(streamIds.pitr(clusterId));
  const state = foldPitr(events);
  const live = state.stanza && !state.retainedUntil ? await liveArchiver(nc, clusterId) : undefined;
  const a = live?.archiver;
  const lastArchivedAt = a?.lastArchivedAt ?? state.archiving.lastArchivedAt ?? null;
  const last = lastPitrBackup(state);
  const running = pendingPitrBackup(state);
  return {
    clusterId,
    name,
    plan,
    pitrDays: findPlan(plan)?.pitrDays ?? 0,
    archiving: {
      enabled: state.stanza !== undefined && !state.removed,
      enabledAt: state.enabledAt ?? null,
      stanza: state.stanza ?? null,
      health: a?.health ?? (state.stanza ? state.archiving.health : 'unknown'),
      since: state.archiving.since ?? null,
      reason: state.archiving.reason ?? null,
      lagSeconds: a?.lagSeconds ?? state.archiving.lagSeconds ?? null,
      lastArchivedAt,
      pendingSegments: a?.pendingSegments ?? null,
      live: a !== undefined && a !== null,
    },
    window: restorableWindow(state, lastWindowRestart(events)?.at, lastArchivedAt ?? undefined) ?? null,
    lastFullBackup: last ? row(last) : null,
    runningFullBackup: running ? row(running) : null,
    nextFullBackupAt: live?.nextFullBackupAt ?? null,
    fullBackups: keptPitrBackups(state).map(row),
    recentFailures: state.backups
      .filter((b) => b.status === 'failed')
      .slice(-5)
      .map(row),
    retainedUntil: state.retainedUntil ?? null,
    removed: state.removed,
  };
}
