import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readControlData } from './controlData.js';
import { runAsPostgresOk } from './exec.js';
import { nodeSettings } from './nodeConfig.js';
import { CLONED_MARKER } from './pgbackrest.js';
import { emptyDir, isNodeInitialized, writeNodeConfig, type InitializedNode, type InitNodeInput } from './initNode.js';
import { ensureOwnedDir, ownedTempDir } from './osUser.js';
import { writePassfile } from './passfile.js';
import { withClient } from './sql.js';
import { writeStandbySettings, type LeaderEndpoint, type StandbyTarget } from './standby.js';
import { toolchain } from './toolchain.js';

/** A follower to clone: its configuration and its leader (the slot is created by the clone). */
export type CloneFollowerInput = Omit<InitNodeInput, 'superuserPassword'> & StandbyTarget;

/**
 * Drop `slot` on the leader when a previous, interrupted clone left it unused. Best effort: when
 * the replication role may not open a SQL session, pg_basebackup reports the leftover slot itself.
 */
async function dropStaleSlot(leader: LeaderEndpoint, slot: string): Promise<void> {
  const inUse = new Error(
    `replication slot ${slot} is in use on ${leader.host}:${leader.port}: another follower streams from it`,
  );
  try {
    await withClient(
      { host: leader.host, port: leader.port, user: leader.user, password: leader.password, database: 'postgres' },
      async (q) => {
        const slots = 'SELECT active FROM pg_replication_slots WHERE slot_name = $1';
        const r = await q.query<{ active: boolean }>(slots, [slot]);
        const row = r.rows[0];
        if (!row) return;
        if (row.active) throw inUse;
        await q.query('SELECT pg_drop_replication_slot($1)', [slot]);
      },
    );
  } catch (err) {
    if (err === inUse) throw err;
  }
}

/**
 * Clone a follower from the leader with pg_basebackup (-R, WAL streamed, slot created), then
 * make it this node: its own port, socket, configuration, and a primary_conninfo that reads the
 * password from a 0600 passfile (never on a command line). Idempotent: a complete clone is only
 * reconfigured; an interrupted one is wiped and redone (its unused slot dropped first).
 */
export async function cloneFollower(input: CloneFollowerInput): Promise<InitializedNode> {
  const { dataDir, leader } = input;
  const applicationName = input.applicationName ?? input.slotName;
  const config = { ...input, clusterName: input.clusterName ?? applicationName };
  if (isNodeInitialized(dataDir)) return writeNodeConfig(config);

  emptyDir(dataDir);
  ensureOwnedDir(dataDir);
  await dropStaleSlot(leader, input.slotName);
  const scratch = await ownedTempDir('pgfleet-clone-');
  try {
    const passfile = join(scratch, 'pgpass');
    writePassfile(passfile, [{ host: leader.host, port: leader.port, user: leader.user, password: leader.password }]);
    const connection = ['-h', leader.host, '-p', String(leader.port), '-U', leader.user, '--no-password'];
    const clone = ['-D', dataDir, '-R', '-X', 'stream', '-C', `--slot=${input.slotName}`, '--checkpoint=fast'];
    const tls = {
      ...(leader.sslmode ? { PGSSLMODE: leader.sslmode } : {}),
      ...(leader.sslrootcert ? { PGSSLROOTCERT: leader.sslrootcert } : {}),
    };
    const env = { PGPASSFILE: passfile, PGAPPNAME: 'pgfleet-clone', ...tls };
    await runAsPostgresOk(toolchain(input.major).bin('pg_basebackup'), [...clone, ...connection], { env });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  // The leader's socket locks and logs came along; they are not this node's.
  for (const f of readdirSync(dataDir)) if (f.startsWith('.s.PGSQL.')) rmSync(join(dataDir, f), { force: true });
  emptyDir(join(dataDir, 'log'));
  writeStandbySettings(dataDir, input, { standby: true });
  // Its first start replays the WAL streamed into pg_wal, not the same segments from the archive.
  writeFileSync(join(dataDir, CLONED_MARKER), 'cloned with pg_basebackup; removed once started\n');
  return writeNodeConfig(config);
}

/** What a cold copy leaves out: the source's own configuration, run files, logs and passfile. */
const NOT_COPIED = new Set(['postgresql.conf', 'pg_hba.conf', 'postmaster.pid', 'postmaster.opts', 'log']);

/**
 * A follower made from a copy of its leader's data directory while that leader is stopped and has
 * never run as a primary since (a new cluster: the leader just initialized): the copy of a cleanly
 * shut down cluster is a valid base backup, with the leader's system identifier. The follower is
 * then a standby of `leader` on slot `slotName` (which the caller creates on the leader before the
 * follower starts) with its own configuration. No pg_basebackup, no checkpoint on a running leader:
 * the followers of a new cluster are ready as soon as it is.
 *
 * The caller guarantees the source does not run. Idempotent: a complete copy is only reconfigured;
 * postgresql.conf (what makes a node initialized) is written last, so an interrupted copy is redone.
 */
export async function copyStoppedNode(input: CloneFollowerInput & { sourceDataDir: string }): Promise<InitializedNode> {
  const { dataDir, sourceDataDir } = input;
  const applicationName = input.applicationName ?? input.slotName;
  const config = { ...input, clusterName: input.clusterName ?? applicationName };
  if (isNodeInitialized(dataDir)) return writeNodeConfig(config);
  if (!isNodeInitialized(sourceDataDir)) throw new Error(`no initialized data directory to copy at ${sourceDataDir}`);
  // A standby refuses to recover with fewer connections or WAL senders than its primary's control
  // file records (initdb's own values here, until the leader's first checkpoint).
  const control = await readControlData(input.major, sourceDataDir);
  const settings = nodeSettings(config);
  for (const name of ['max_connections', 'max_wal_senders']) {
    const recorded = Number(control[`${name} setting`]);
    if (Number(settings[name]) < recorded)
      throw new Error(`cannot copy ${sourceDataDir}: ${name} ${settings[name]} is below its recorded ${recorded}`);
  }

  emptyDir(dataDir);
  ensureOwnedDir(dataDir);
  const entries = readdirSync(sourceDataDir).filter(
    (f) => !NOT_COPIED.has(f) && !f.startsWith('.s.PGSQL.') && f !== 'pgfleet.pgpass' && f !== CLONED_MARKER,
  );
  // As the postgres OS user, who owns both directories; -a keeps the modes.
  await runAsPostgresOk('/bin/cp', ['-a', ...entries.map((f) => join(sourceDataDir, f)), dataDir]);
  ensureOwnedDir(join(dataDir, 'log'));
  writeStandbySettings(dataDir, input, { standby: true });
  // Like a clone's first start: the WAL it needs streams from the leader, not from the archive.
  writeFileSync(join(dataDir, CLONED_MARKER), 'copied from the stopped leader; removed once started\n');
  return writeNodeConfig(config);
}
