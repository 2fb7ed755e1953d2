import { readdirSync, readFileSync } from 'node:fs';
import { pidAlive } from '@pgfleet/postgres';

/** A live (not zombie) process; EPERM means it exists under another user. */

/** Is `pid` a live haproxy started with `-f configFile`? */
function isHaproxyOf(pid: number, configFile: string): boolean {
  try {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'haproxy') return false;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const i = argv.indexOf('-f');
    return i >= 0 && argv[i + 1] === configFile && pidAlive(pid);
  } catch {
    return false;
  }
}

/** Every haproxy process of one gateway (the serving one and any still draining after a reload). */
export function haproxyProcessesOf(configFile: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (/^\d+$/.test(entry) && isHaproxyOf(Number(entry), configFile)) pids.push(Number(entry));
  }
  return pids.sort((a, b) => a - b);
}
