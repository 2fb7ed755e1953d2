import { readdirSync, readFileSync } from 'node:fs';

/** Live PostgreSQL and HAProxy processes whose arguments point into `dir` (from /proc). */
function serversUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const server = argv[0]?.endsWith('/postgres') || argv[0]?.endsWith('haproxy');
      if (server && argv.some((a) => a.startsWith(`${dir}/`))) pids.push(pid);
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/**
 * Kill the cluster servers a test left under `dir` (they outlive the platform by design) and say
 * how many there were: a hostile input that created a cluster left some.
 */
export function killStrayServers(dir: string): number {
  const pids = serversUnder(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  return pids.length;
}
