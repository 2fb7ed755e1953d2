import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pgString, readNodeSettings } from './nodeConfig.js';
import { writeOwnedFile } from './ownedFile.js';
import { writePassfile } from './passfile.js';
import { quoteLiteral, withClient, type SqlTarget } from './sql.js';

export interface LeaderEndpoint {
  host: string;
  port: number;
  /** A role with REPLICATION (the replication role). */
  user: string;
  password: string;
  /** libpq sslmode for replication (e.g. verify-full, with sslrootcert). */
  sslmode?: string;
  sslrootcert?: string;
}

/** What a standby streams from: its leader, its slot there and the name it shows the leader. */
export interface StandbyTarget {
  leader: LeaderEndpoint;
  /** Physical replication slot on the leader. */
  slotName: string;
  /** The standby's application_name on the leader (what synchronous_standby_names lists); default slotName. */
  applicationName?: string;
}

/** The follower's password file for its connection to the leader (inside its data dir, 0600). */
export const FOLLOWER_PASSFILE = 'pgfleet.pgpass';

/** A conninfo value: bare when plain, else single-quoted with `\` and `'` escaped. */
const conninfoValue = (v: string) =>
  /^[A-Za-z0-9_./-]+$/.test(v) ? v : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * The CA a node verifies its leader with: its `ssl_ca_file`, else the `ca.crt` beside its
 * certificate. Undefined when the node has no TLS material.
 */
export function nodeCaFile(dataDir: string): string | undefined {
  const settings = readNodeSettings(dataDir);
  if (settings.ssl_ca_file) return resolve(dataDir, settings.ssl_ca_file);
  if (!settings.ssl_cert_file) return undefined;
  const ca = join(dirname(resolve(dataDir, settings.ssl_cert_file)), 'ca.crt');
  return existsSync(ca) ? ca : undefined;
}

/** The leader as a node with the CA `caFile` reaches it: verify-full against that CA, unless told otherwise. */
export function verifiedLeader(leader: LeaderEndpoint, caFile: string | undefined): LeaderEndpoint {
  if (!caFile) return leader;
  return { ...leader, sslmode: leader.sslmode ?? 'verify-full', sslrootcert: leader.sslrootcert ?? caFile };
}

/** Write the standby's passfile for its leader (0600, in its data dir); returns its path. */
export function writeLeaderPassfile(dataDir: string, leader: LeaderEndpoint): string {
  const passfile = join(dataDir, FOLLOWER_PASSFILE);
  const { host, port, user, password } = leader;
  writePassfile(passfile, [{ host, port, user, password, database: 'replication' }]);
  return passfile;
}

/** The standby's primary_conninfo: the password stays in the passfile, never in the configuration. Pure. */
export function primaryConninfo(leader: LeaderEndpoint, passfile: string, applicationName: string): string {
  return [
    `host=${conninfoValue(leader.host)}`,
    `port=${leader.port}`,
    `user=${conninfoValue(leader.user)}`,
    `passfile=${conninfoValue(passfile)}`,
    `application_name=${conninfoValue(applicationName)}`,
    ...(leader.sslmode ? [`sslmode=${conninfoValue(leader.sslmode)}`] : []),
    ...(leader.sslrootcert ? [`sslrootcert=${conninfoValue(leader.sslrootcert)}`] : []),
  ].join(' ');
}

const LEADER_SETTINGS = /^\s*(primary_conninfo|primary_slot_name|synchronous_standby_names)\s*=/;

/**
 * Point a stopped node's data directory at a leader: passfile, postgresql.auto.conf with the
 * new primary_conninfo and primary_slot_name (and no synchronous_standby_names: those belong to
 * a leader), and standby.signal when `standby` (so it starts as a standby). Idempotent.
 */
export function writeStandbySettings(dataDir: string, target: StandbyTarget, options: { standby: boolean }): void {
  const passfile = writeLeaderPassfile(dataDir, target.leader);
  const conninfo = primaryConninfo(target.leader, passfile, target.applicationName ?? target.slotName);
  const autoConf = join(dataDir, 'postgresql.auto.conf');
  const kept = (existsSync(autoConf) ? readFileSync(autoConf, 'utf8') : '')
    .split('\n')
    .filter((l) => l.trim() !== '' && !LEADER_SETTINGS.test(l));
  kept.push(`primary_conninfo = ${pgString(conninfo)}`, `primary_slot_name = ${pgString(target.slotName)}`);
  writeOwnedFile(autoConf, `${kept.join('\n')}\n`);
  if (options.standby) writeOwnedFile(join(dataDir, 'standby.signal'), '');
}

/**
 * Point a running standby at another leader: its passfile, then primary_conninfo and
 * primary_slot_name by ALTER SYSTEM and a reload (the WAL receiver reconnects). Refuses a leader.
 */
export async function repointStandby(server: SqlTarget, dataDir: string, target: StandbyTarget): Promise<void> {
  await withClient(server, async (q) => {
    const { rec } = (await q.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec')).rows[0]!;
    if (!rec) throw new Error(`the server of ${dataDir} is a leader, not a standby`);
    const passfile = writeLeaderPassfile(dataDir, target.leader);
    const conninfo = primaryConninfo(target.leader, passfile, target.applicationName ?? target.slotName);
    await q.query(`ALTER SYSTEM SET primary_conninfo = ${quoteLiteral(conninfo)}`);
    await q.query(`ALTER SYSTEM SET primary_slot_name = ${quoteLiteral(target.slotName)}`);
    await q.query('SELECT pg_reload_conf()');
  });
}

/**
 * Promote a standby and wait until it accepts writes, asking every 10 ms (pg_promote's own wait
 * looks every 100 ms), for up to `timeoutSeconds`. A server already out of recovery is left as it is.
 */
export async function promoteStandby(server: SqlTarget, timeoutSeconds = 60): Promise<void> {
  await withClient(server, async (q) => {
    const inRecovery = async () => (await q.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec')).rows[0]!.rec;
    if (!(await inRecovery())) return;
    const { ok } = (await q.query<{ ok: boolean }>('SELECT pg_promote(false) AS ok')).rows[0]!;
    if (!ok) throw new Error('the standby could not be signalled to promote');
    const deadline = Date.now() + timeoutSeconds * 1000;
    while (await inRecovery()) {
      if (Date.now() > deadline) throw new Error(`the standby was not promoted within ${timeoutSeconds} s`);
      await new Promise((r) => setTimeout(r, 10));
    }
  });
}

/**
 * Cut a running standby off its leader: primary_conninfo emptied by ALTER SYSTEM and a reload, so
 * its WAL receiver stops and does not come back; it stays in recovery with everything it
 * received. Resolves once no WAL receiver runs; returns the last WAL location it received (flushed).
 * Refuses a leader.
 */
export async function detachStandby(server: SqlTarget, timeoutMs = 5000): Promise<string | null> {
  return withClient(server, async (q) => {
    const { rec } = (await q.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec')).rows[0]!;
    if (!rec) throw new Error('the server is a leader, not a standby');
    await q.query("ALTER SYSTEM SET primary_conninfo = ''");
    await q.query('SELECT pg_reload_conf()');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { n } = (await q.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_wal_receiver')).rows[0]!;
      if (n === 0) break;
      if (Date.now() > deadline) throw new Error(`its WAL receiver was still running after ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const { lsn } = (await q.query<{ lsn: string | null }>('SELECT pg_last_wal_receive_lsn()::text AS lsn')).rows[0]!;
    return lsn;
  });
}
