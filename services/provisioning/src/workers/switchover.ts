import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findPlan, streamIds, type CommandData, type CommandMeta, type CommandReply } from '@pgfleet/contracts';
import { WrongExpectedVersion } from '@pgfleet/eventstore';
import {
  FOLLOWER_PASSFILE, nodeSocketDir, nodeStatus, pgString, quoteLiteral, runAsPostgresOk, setSynchronousStandbys, toolchain, withClient,
  writeOwnedFile, writePassfile, type SqlTarget,
} from '@pgfleet/postgres';
import { replicationSecretRef } from '../commands.js';
import { foldCluster, type NodeState } from '../domain/cluster.js';
import { decideSwitchover } from '../domain/switchover.js';
import { runtimeNodeId } from './nodeIds.js';
import { clusterTlsDir } from './nodeTls.js';
import { PROVISIONING_ACTOR, REPLICATION_USER, slotName, type ReconcileDeps } from './reconcile.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const conninfoValue = (v: string) => (/^[A-Za-z0-9_./-]+$/.test(v) ? v : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`);

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
export async function switchoverCluster(deps: ReconcileDeps, cmd: CommandData<'provisioning', 'SwitchoverCluster'>, meta: CommandMeta): Promise<CommandReply> {
  const streamId = streamIds.cluster(cmd.clusterId);
  const { events } = await deps.store.readStream(streamId);
  const state = foldCluster(events);
  const decision = decideSwitchover(cmd, state);
  if (!decision.ok) return { ok: false, ...decision.rejection };
  const password = await deps.secrets.get(replicationSecretRef(cmd.clusterId));
  if (!password) return { ok: false, code: 'INTERNAL', message: "the cluster's replication password is missing from the secret store" };
  const node = (id: string) => state.nodes.find((n) => n.nodeId === id)!;
  const oldLeader = node(decision.from);
  const target = node(decision.to);
  const others = state.nodes.filter((n) => n.nodeId !== oldLeader.nodeId && n.nodeId !== target.nodeId);
  const sock = (n: NodeState): SqlTarget => ({ host: nodeSocketDir(n.dataDir!), port: n.port!, user: 'postgres', database: 'postgres' });
  const rid = (n: NodeState) => runtimeNodeId(cmd.clusterId, n.nodeId);
  const major = state.version!;
  const log = deps.log;

  // 1. The old leader stops cleanly: a shutdown checkpoint, and the walsenders send all WAL first.
  await deps.runtime.stop(rid(oldLeader), 'fast');
  const control = await runAsPostgresOk(toolchain(major).bin('pg_controldata'), ['-D', oldLeader.dataDir!]);
  const lastCheckpoint = /Latest checkpoint location:\s+(\S+)/.exec(control)?.[1];
  try {
    if (!lastCheckpoint) throw new Error('pg_controldata did not report the old leader\'s last checkpoint');
    // 2. The target has received everything the old leader wrote, then is promoted.
    await until(`${target.nodeId} receiving the old leader's last WAL`, () => withClient(sock(target), async (q) => {
      const r = await q.query<{ ok: boolean }>(`SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), ${quoteLiteral(lastCheckpoint)}::pg_lsn) > 0 AS ok`);
      return r.rows[0]?.ok ? true : undefined;
    }), 30_000);
    await withClient(sock(target), (q) => q.query('SELECT pg_promote(true, 60)'));
  } catch (error) {
    // Nothing changed yet: the old leader takes its place back.
    await deps.runtime.start(rid(oldLeader));
    return { ok: false, code: 'SWITCHOVER_FAILED', message: `switchover to ${target.nodeId} failed, ${oldLeader.nodeId} stays the leader: ${(error as Error).message}` };
  }
  log.info({ clusterId: cmd.clusterId, from: oldLeader.nodeId, to: target.nodeId }, 'follower promoted');

  // 3. Slots on the new leader for every standby (slots are not replicated).
  const standbys = [oldLeader, ...others];
  await withClient(sock(target), async (q) => {
    for (const s of standbys) {
      await q.query(`SELECT pg_create_physical_replication_slot($1) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`, [slotName(s.nodeId)]);
    }
  });

  // 4. The old leader becomes a standby of the new one; the other followers are repointed.
  const conninfo = (n: NodeState) => {
    const passfile = join(n.dataDir!, FOLLOWER_PASSFILE);
    writePassfile(passfile, state.nodes.map((x) => ({ host: '127.0.0.1', port: x.port!, user: REPLICATION_USER, password, database: 'replication' })));
    const ca = deps.home ? join(clusterTlsDir(deps.home, cmd.clusterId), 'nodes', n.nodeId, 'ca.crt') : undefined;
    return [`host=127.0.0.1`, `port=${target.port!}`, `user=${REPLICATION_USER}`, `passfile=${conninfoValue(passfile)}`, `application_name=${slotName(n.nodeId)}`,
      ...(ca && existsSync(ca) ? ['sslmode=verify-full', `sslrootcert=${conninfoValue(ca)}`] : [])].join(' ');
  };
  const autoConf = join(oldLeader.dataDir!, 'postgresql.auto.conf');
  const kept = readFileSync(autoConf, 'utf8').split('\n')
    .filter((l) => l.trim() !== '' && !/^\s*(primary_conninfo|primary_slot_name|synchronous_standby_names)\s*=/.test(l));
  kept.push(`primary_conninfo = ${pgString(conninfo(oldLeader))}`, `primary_slot_name = ${pgString(slotName(oldLeader.nodeId))}`);
  writeOwnedFile(autoConf, kept.join('\n') + '\n');
  writeOwnedFile(join(oldLeader.dataDir!, 'standby.signal'), '');
  await deps.runtime.start(rid(oldLeader));
  for (const f of others) {
    await withClient(sock(f), async (q) => {
      await q.query(`ALTER SYSTEM SET primary_conninfo = ${quoteLiteral(conninfo(f))}`);
      await q.query('SELECT pg_reload_conf()');
    });
  }

  // 5. Replication on the new leader: every standby streaming, synchronous when the plan says so.
  await until('every standby streaming from the new leader', async () =>
    (await nodeStatus(sock(target))).standbys.filter((s) => s.state === 'streaming').length >= standbys.length ? true : undefined);
  const plan = findPlan(state.plan!);
  if (plan?.synchronousReplication) await setSynchronousStandbys(sock(target), standbys.map((s) => slotName(s.nodeId)), 1);
  const timeline = await withClient(sock(target), async (q) =>
    parseInt((await q.query<{ f: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS f')).rows[0]!.f.slice(0, 8), 16));

  // 6. The outcome: the gateways follow LeaderChanged.
  try {
    const res = await deps.store.appendToStream(streamId, [{
      type: 'LeaderChanged', data: { from: oldLeader.nodeId, to: target.nodeId, reason: 'switchover', timeline },
      actor: meta.actor ?? PROVISIONING_ACTOR, correlationId: meta.correlationId, causationId: events.at(-1)?.id ?? null,
    }], { expectedVersion: state.version_ });
    return { ok: true, streamId, version: res.nextExpectedVersion, result: { from: oldLeader.nodeId, to: target.nodeId, timeline } };
  } catch (error) {
    if (error instanceof WrongExpectedVersion) return { ok: false, code: 'CONFLICT', message: 'the cluster changed during the switchover; check its state' };
    throw error;
  }
}

