import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * PostgreSQL binaries of one major version: Debian's layout `/usr/lib/postgresql/{major}/bin`,
 * overridable with `PGFLEET_PG{major}_BIN` (e.g. PGFLEET_PG15_BIN=/opt/pg15/bin).
 */
export interface Toolchain {
  major: number;
  binDir: string;
  bin(
    name:
      | 'postgres'
      | 'initdb'
      | 'pg_ctl'
      | 'pg_basebackup'
      | 'pg_dump'
      | 'pg_restore'
      | 'pg_upgrade'
      | 'psql'
      | 'pgbench'
      | 'pg_controldata'
      | 'pg_isready'
      | 'pg_rewind',
  ): string;
}

export function toolchain(major: number, env: NodeJS.ProcessEnv = process.env): Toolchain {
  const binDir = env[`PGFLEET_PG${major}_BIN`] ?? `/usr/lib/postgresql/${major}/bin`;
  if (!existsSync(join(binDir, 'postgres'))) {
    throw new Error(
      `PostgreSQL ${major} is not installed: ${join(binDir, 'postgres')} not found ` +
        `(run npm start to install it, or set PGFLEET_PG${major}_BIN)`,
    );
  }
  return { major, binDir, bin: (name) => join(binDir, name) };
}
