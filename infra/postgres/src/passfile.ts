import { writeOwnedFile } from './ownedFile.js';

export interface PassfileEntry {
  host: string;
  port: number;
  user: string;
  password: string;
  database?: string;
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/:/g, '\\:');

/** A libpq password file (`host:port:db:user:password`, 0600, owned by the postgres OS user). */
export function writePassfile(path: string, entries: readonly PassfileEntry[]): void {
  const lines = entries.map((e) => [e.host, String(e.port), e.database ?? '*', e.user, e.password].map(esc).join(':'));
  writeOwnedFile(path, `${lines.join('\n')}\n`, 0o600);
}
