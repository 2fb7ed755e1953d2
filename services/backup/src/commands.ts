import {
  streamIds,
  uuidv7,
  type BackupKind,
  type CommandData,
  type CommandMeta,
  type CommandReply,
} from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { handleCommand } from '@pgfleet/kit';
import { backupsDecider, type BackupEvent, type BackupsCommand } from './domain/backups.js';
import { backupIdFor } from './domain/backupId.js';
import { isTimeZone } from './domain/dailySlot.js';
import { clusterFacts, loadCluster } from './workers/cluster.js';

export interface CommandDeps {
  store: EventStore;
}

export interface RequestOptions {
  now?: Date;
  backupId?: string;
  kind?: BackupKind;
}

const notFound = (clusterId: string): CommandReply => ({
  ok: false,
  code: 'CLUSTER_NOT_FOUND',
  message: `no cluster ${clusterId}`,
  details: { field: 'clusterId' },
});

/** Decide a command on `backups-{clusterId}`; returns the reply and the events appended. */
async function decideOn(
  store: EventStore,
  clusterId: string,
  command: BackupsCommand,
  meta: CommandMeta,
): Promise<{ reply: CommandReply; events: BackupEvent[] }> {
  let events: BackupEvent[] = [];
  const reply = await handleCommand({
    store,
    streamId: streamIds.backups(clusterId),
    initialState: backupsDecider.initialState,
    evolve: backupsDecider.evolve,
    decide: (c: BackupsCommand, s) => {
      const d = backupsDecider.decide(c, s);
      events = d.ok ? d.events : [];
      return d;
    },
    command,
    meta,
  });
  return { reply, events };
}

/**
 * RequestBackup: decided against the cluster's plan. A quota refusal is recorded in the stream
 * (QuotaExceeded, BackupRejected) and answered as a rejection with code QUOTA_EXCEEDED.
 * The accepted reply carries `result.backupId`. Idempotent by `meta.commandId` (the API's
 * Idempotency-Key): the backup id is derived from it, so the same command twice asks for one
 * backup (the second appends nothing and answers the same id); a new key asks for another.
 */
export async function requestBackup(
  deps: CommandDeps,
  cmd: CommandData<'backup', 'RequestBackup'>,
  meta: CommandMeta,
  options: RequestOptions = {},
): Promise<CommandReply> {
  const facts = clusterFacts(cmd.clusterId, await loadCluster(deps.store, cmd.clusterId));
  if (!facts) return notFound(cmd.clusterId);
  const backupId = options.backupId ?? (meta.commandId ? backupIdFor(cmd.clusterId, meta.commandId) : uuidv7());
  const now = (options.now ?? new Date()).toISOString();
  const kind = options.kind ?? 'manual';
  const command: BackupsCommand = { type: 'RequestBackup', cluster: facts, backupId, now, kind };
  const { reply, events } = await decideOn(deps.store, cmd.clusterId, command, meta);
  if (!reply.ok) return reply;
  let quota: Record<string, unknown> = {};
  let evicted: string | undefined;
  for (const e of events) {
    if (e.type === 'QuotaExceeded') quota = { quota: e.data.quota, limit: e.data.limit, used: e.data.used };
    if (e.type === 'BackupEvicted') evicted = e.data.backupId;
    if (e.type === 'BackupRejected') {
      return { ok: false, code: e.data.code, message: e.data.reason, details: { field: 'clusterId', ...quota } };
    }
  }
  return { ...reply, result: { backupId, ...(evicted ? { evicted } : {}) } };
}

/** SetBackupSchedule: the daily backup's hour and time zone. */
export async function setBackupSchedule(
  deps: CommandDeps,
  cmd: CommandData<'backup', 'SetBackupSchedule'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  if (!isTimeZone(cmd.tz)) {
    const message = `invalid command: tz: unknown time zone "${cmd.tz}"`;
    return { ok: false, code: 'VALIDATION_FAILED', message, details: { field: 'tz' } };
  }
  const facts = clusterFacts(cmd.clusterId, await loadCluster(deps.store, cmd.clusterId));
  if (!facts) return notFound(cmd.clusterId);
  const command: BackupsCommand = { type: 'SetBackupSchedule', cluster: facts, at: cmd.at, tz: cmd.tz };
  return (await decideOn(deps.store, cmd.clusterId, command, meta)).reply;
}
