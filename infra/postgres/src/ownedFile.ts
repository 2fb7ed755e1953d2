import { chownSync, renameSync, writeFileSync } from 'node:fs';
import { postgresOsUser } from './osUser.js';

/** Write a file atomically (temp + rename) and hand it to the postgres OS user. */
export function writeOwnedFile(path: string, content: string, mode = 0o600): void {
  const user = postgresOsUser();
  const tmp = `${path}.pgfleet-tmp`;
  writeFileSync(tmp, content, { mode });
  chownSync(tmp, user.uid, user.gid);
  renameSync(tmp, path);
}
