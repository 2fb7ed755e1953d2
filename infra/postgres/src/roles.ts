import { scramVerifier } from './scram.js';
import { quoteIdent, quoteLiteral, withClient, type SqlTarget } from './sql.js';

export interface AppRoleInput {
  role: string;
  database: string;
  password: string;
}

async function upsertRole(target: SqlTarget, role: string, attributes: string, password: string): Promise<void> {
  // The server only ever sees the SCRAM verifier, never the password.
  const verifier = quoteLiteral(scramVerifier(password));
  await withClient(target, async (q) => {
    const exists = await q.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
    const verb = exists.rowCount ? 'ALTER' : 'CREATE';
    await q.query(`${verb} ROLE ${quoteIdent(role)} WITH ${attributes} PASSWORD ${verifier}`);
  });
}

/**
 * The application's role (LOGIN, no superpowers) and its own database. Idempotent: running it
 * again resets the password and keeps the data.
 */
export async function createAppRoleAndDb(target: SqlTarget, input: AppRoleInput): Promise<void> {
  await upsertRole(target, input.role, 'LOGIN NOSUPERUSER NOCREATEROLE NOREPLICATION', input.password);
  await withClient(target, async (q) => {
    const exists = await q.query('SELECT 1 FROM pg_database WHERE datname = $1', [input.database]);
    if (!exists.rowCount)
      await q.query(`CREATE DATABASE ${quoteIdent(input.database)} OWNER ${quoteIdent(input.role)}`);
    await q.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${quoteIdent(input.database)} FROM PUBLIC`);
    await q.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${quoteIdent(input.database)} TO ${quoteIdent(input.role)}`);
  });
}

/** The role followers stream WAL with (REPLICATION LOGIN). Idempotent. */
export async function createReplicationRole(
  target: SqlTarget,
  input: { role: string; password: string },
): Promise<void> {
  await upsertRole(target, input.role, 'LOGIN REPLICATION NOSUPERUSER', input.password);
}

/**
 * A physical replication slot per name on the server (slots are not replicated: each leader needs
 * its own). Idempotent. By default it reserves WAL from now on, so a follower that connects later
 * finds it; `reserve: false` for a node that may never come back (a failed leader): its slot then
 * holds no WAL until it connects.
 */
export async function ensureReplicationSlots(
  target: SqlTarget,
  names: readonly string[],
  { reserve = true }: { reserve?: boolean } = {},
): Promise<void> {
  await withClient(target, async (q) => {
    for (const name of names) {
      await q.query(
        `SELECT pg_create_physical_replication_slot($1, $2)
          WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`,
        [name, reserve],
      );
    }
  });
}
