import { readdirSync, readFileSync } from 'node:fs';

/** A live (not zombie) process; EPERM means it exists under another user. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** Is `pid` a live haproxy started with `-f configFile`? */
export function isHaproxyOf(pid: number, configFile: string): boolean {
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
