import {
  findPlan,
  foldClusterView,
  runtimeNodeId,
  slotName,
  streamIds,
  type CommandData,
  type CommandMeta,
  type CommandReply,
} from '@pgfleet/contracts';
import { nodeStatus, quoteLiteral, setSynchronousStandbys, withClient } from '@pgfleet/postgres';
import type { UpstreamLeader } from '@pgfleet/runtime';
import { replicationSecretRef } from '../commands.js';
import { decideSwitchover } from '../domain/switchover.js';
import { REPLICATION_USER, type ReconcileDeps } from './reconcile.js';
import { PROVISIONING_ACTOR, recordOutcome } from './record.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

/**
 * SwitchoverCluster: a planned, clean leader change. The old leader stops cleanly (its last WAL
 * reaches the followers), the chosen follower is promoted once it has received all of it, the old
 * leader restarts as a standby of the new one (same timeline history, so no rewind), the other
 * followers are repointed, synchronous replication is set on the new leader, then LeaderChanged
 * is recorded and the gateways follow it. Replies when done.
 */
export async function switchoverCluster(
  deps: ReconcileDeps,
  cmd: CommandData<'provisioning', 'SwitchoverCluster'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  const { clusterId } = cmd;
  const { events } = await deps.store.readStream(streamIds.cluster(clusterId));
  const state = foldClusterView(events);
  const decision = decideSwitchover(cmd, state);
  if (!decision.ok) return { ok: false, ...decision.rejection };
  const password = await deps.secrets.get(replicationSecretRef(clusterId));
  if (!password) {
    const message = "the cluster's replication password is missing from the secret store";
    return { ok: false, code: 'INTERNAL', message };
  }
  const { from, to } = decision;
  const others = state.nodes.map((n) => n.nodeId).filter((id) => id !== from && id !== to);
  const rid = (nodeId: string) => runtimeNodeId(clusterId, nodeId);
  const target = await deps.runtime.endpoint(rid(to));

  // 1. The old leader stops cleanly: a shutdown checkpoint, and the walsenders send all WAL first.
  await deps.runtime.stop(rid(from), 'fast');
  try {
    const lastCheckpoint = (await deps.runtime.controlData(rid(from)))['Latest checkpoint location'];
    if (!lastCheckpoint) throw new Error("pg_controldata did not report the old leader's last checkpoint");
    // 2. The target has received everything the old leader wrote, then is promoted.
    const checkpoint = quoteLiteral(lastCheckpoint);
    const received = `SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), ${checkpoint}::pg_lsn) > 0 AS ok`;
    await until(
      `${to} receiving the old leader's last WAL`,
      () =>
        withClient(target, async (q) => ((await q.query<{ ok: boolean }>(received)).rows[0]?.ok ? true : undefined)),
      30_000,
    );
    await deps.runtime.promote(rid(to));
  } catch (error) {
    // Nothing changed yet: the old leader takes its place back.
    await deps.runtime.start(rid(from));
    const reason = error instanceof Error ? error.message : String(error);
    const message = `switchover to ${to} failed, ${from} stays the leader: ${reason}`;
    return { ok: false, code: 'SWITCHOVER_FAILED', message };
  }
  deps.log.info({ clusterId, from, to }, 'follower promoted');

  // 3. Slots on the new leader for every standby (slots are not replicated).
  const standbys = [from, ...others];
  await withClient(target, async (q) => {
    for (const s of standbys) {
      await q.query(
        `SELECT pg_create_physical_replication_slot($1)
        WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`,
        [slotName(s)],
      );
    }
  });

  // 4. The old leader becomes a standby of the new one; the other followers are repointed.
  const leader: UpstreamLeader = {
    ...(await deps.runtime.peerAddress(rid(to))),
    user: REPLICATION_USER,
    password,
    ...(deps.home ? { sslmode: 'verify-full' } : {}),
  };
  await deps.runtime.follow(rid(from), leader, slotName(from));
  await deps.runtime.start(rid(from));
  for (const f of others) await deps.runtime.repoint(rid(f), leader, slotName(f));

  // 5. Replication on the new leader: every standby streaming, synchronous when the plan says so.
  await until('every standby streaming from the new leader', async () => {
    const streaming = (await nodeStatus(target)).standbys.filter((s) => s.state === 'streaming').length;
    return streaming >= standbys.length ? true : undefined;
  });
  const plan = state.plan === undefined ? undefined : findPlan(state.plan);
  if (plan?.synchronousReplication) await setSynchronousStandbys(target, standbys.map(slotName), 1);
  const timeline = await withClient(target, async (q) => {
    const wal = await q.query<{ f: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS f');
    return parseInt(wal.rows[0]!.f.slice(0, 8), 16);
  });

  // 6. The outcome, decided against the history (a cluster changed meanwhile is a CONFLICT): the gateways follow it.
  const reply = await recordOutcome(
    deps.store,
    clusterId,
    { type: 'RecordLeaderChanged', from, to, timeline },
    {
      actor: meta.actor ?? PROVISIONING_ACTOR,
      causationId: events.at(-1)?.id ?? null,
      ...(meta.correlationId ? { correlationId: meta.correlationId } : {}),
    },
  );
  return reply.ok ? { ...reply, result: { from, to, timeline } } : reply;
}
