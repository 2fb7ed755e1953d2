import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runAsPostgresOk } from './exec.js';
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
