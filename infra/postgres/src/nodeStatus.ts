import { quoteIdent, withClient, type SqlTarget } from './sql.js';

export interface StandbyLag {
  applicationName: string;
  clientAddr: string | null;
  state: string;
  syncState: string;
  replayLsn: string | null;
  /** WAL bytes the standby has not replayed yet (leader's current LSN minus its replay LSN). */
  lagBytes: number | null;
}

export interface WalReceiverStatus {
  status: string;
  senderHost: string | null;
  senderPort: number | null;
  slotName: string | null;
  receivedLsn: string | null;
  /**
   * How long ago it last heard from its sender (ms; null when never). A receiver hung connecting to a
   * frozen server already says `streaming`: only a recent message shows a live stream.
   */
  silentMs: number | null;
}

export interface NodeStatus {
  inRecovery: boolean;
  timeline: number;
  /** Current WAL position: write LSN on a leader, replay LSN on a standby. */
  lsn: string | null;
  /** Leader: one entry per connected standby (needs the superuser or pg_read_all_stats). */
  standbys: StandbyLag[];
  /** Standby: its WAL receiver, when one runs. */
  receiver?: WalReceiverStatus;
  /** Standby: received but not yet replayed bytes. */
  replayLagBytes?: number;
  synchronousStandbyNames: string;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** Role, timeline, WAL position and per-standby replication lag of one node. */
export async function nodeStatus(target: SqlTarget): Promise<NodeStatus> {
  return withClient(target, async (q) => {
    const base = (
      await q.query<{ rec: boolean; ssn: string }>(
        `SELECT pg_is_in_recovery() AS rec, current_setting('synchronous_standby_names') AS ssn`,
      )
    ).rows[0]!;
    if (!base.rec) {
      const lead = (
        await q.query<{ lsn: string; wal: string }>(
          'SELECT pg_current_wal_lsn()::text AS lsn, pg_walfile_name(pg_current_wal_lsn()) AS wal',
        )
      ).rows[0]!;
      const standbys = await q.query<{
        application_name: string;
        client_addr: string | null;
        state: string;
        sync_state: string;
        replay_lsn: string | null;
        lag: string | null;
      }>(
        `SELECT application_name, client_addr::text AS client_addr, state, sync_state, replay_lsn::text AS replay_lsn,
                pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint::text AS lag
           FROM pg_stat_replication ORDER BY application_name`,
      );
      return {
        inRecovery: false,
        // The WAL file name starts with the timeline: exact right after a promotion, unlike pg_control.
        timeline: parseInt(lead.wal.slice(0, 8), 16),
        lsn: lead.lsn,
        standbys: standbys.rows.map((r) => ({
          applicationName: r.application_name,
          clientAddr: r.client_addr,
          state: r.state,
          syncState: r.sync_state,
          replayLsn: r.replay_lsn,
          lagBytes: num(r.lag),
        })),
        synchronousStandbyNames: base.ssn,
      };
    }
    const st = (
      await q.query<{ lsn: string | null; lag: string | null; tli: number }>(
        `SELECT pg_last_wal_replay_lsn()::text AS lsn,
              pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint::text AS lag,
              (SELECT timeline_id FROM pg_control_checkpoint()) AS tli`,
      )
    ).rows[0]!;
    const rcv = (
      await q.query<{
        status: string;
        sender_host: string | null;
        sender_port: number | null;
        slot_name: string | null;
        lsn: string | null;
        tli: number | null;
        silent: string | null;
      }>(
        `SELECT status, sender_host, sender_port, slot_name, flushed_lsn::text AS lsn, received_tli AS tli,
                (extract(epoch FROM clock_timestamp() - last_msg_receipt_time) * 1000)::bigint::text AS silent
           FROM pg_stat_wal_receiver`,
      )
    ).rows[0];
    const status: NodeStatus = {
      inRecovery: true,
      timeline: rcv?.tli ?? st.tli,
      lsn: st.lsn,
      standbys: [],
      synchronousStandbyNames: base.ssn,
    };
    if (st.lag !== null) status.replayLagBytes = Number(st.lag);
    if (rcv)
      status.receiver = {
        status: rcv.status,
        senderHost: rcv.sender_host,
        senderPort: rcv.sender_port,
        slotName: rcv.slot_name,
        receivedLsn: rcv.lsn,
        silentMs: rcv.silent === null ? null : Number(rcv.silent),
      };
    return status;
  });
}

/** `ANY 1 ("a", "b")`: a commit waits for any `num` of the named standbys (their application_name). */
export function synchronousStandbyNames(names: readonly string[], num = 1): string {
  if (names.length === 0) return '';
  return `ANY ${num} (${names.map(quoteIdent).join(', ')})`;
}

/**
 * Make commits on the leader wait for `num` of `names` (empty list: asynchronous), through
 * ALTER SYSTEM so it survives restarts, then reload. Returns the value set.
 */
export async function setSynchronousStandbys(target: SqlTarget, names: readonly string[], num = 1): Promise<string> {
  const value = synchronousStandbyNames(names, num);
  await withClient(target, async (q) => {
    // Already in effect: nothing to write (a switchover sets it before the promotion). The reload
    // is done all the same: callers count on it for what they changed before.
    const current = await q.query<{ v: string }>("SELECT current_setting('synchronous_standby_names') AS v");
    if (current.rows[0]?.v !== value) {
      await q.query(`ALTER SYSTEM SET synchronous_standby_names = '${value.replace(/'/g, "''")}'`);
    }
    await q.query('SELECT pg_reload_conf()');
  });
  return value;
}
