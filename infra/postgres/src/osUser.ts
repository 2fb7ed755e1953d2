import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync } from 'node:fs';
import { childEnv } from './childEnv.js';

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

let cached: OsUser | undefined;

/**
 * The unprivileged OS user PostgreSQL servers run as (PostgreSQL refuses root). When we are
 * not root we simply run as ourselves. Override with PGFLEET_PG_USER.
 */
export function postgresOsUser(env: NodeJS.ProcessEnv = process.env): OsUser {
  if (cached) return cached;
  const uid = process.getuid?.() ?? 0;
  if (uid !== 0) {
    cached = { name: 'self', uid, gid: process.getgid?.() ?? uid };
    return cached;
  }
  const name = env.PGFLEET_PG_USER ?? 'postgres';
  const id = (flag: string) =>
    Number(execFileSync('id', [flag, name], { encoding: 'utf8', env: childEnv({}, env) }).trim());
  cached = { name, uid: id('-u'), gid: id('-g') };
  return cached;
}

/** mkdir -p, then hand the directory to the postgres OS user (mode 0700, as initdb wants). */
export function ensureOwnedDir(dir: string, mode = 0o700): void {
  const user = postgresOsUser();
  mkdirSync(dir, { recursive: true, mode });
  chownSync(dir, user.uid, user.gid);
}

/** A fresh temporary directory the postgres OS user can work in (tests, scratch space). */
export async function ownedTempDir(prefix = 'pgfleet-'): Promise<string> {
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const user = postgresOsUser();
  chownSync(dir, user.uid, user.gid);
  return dir;
}
