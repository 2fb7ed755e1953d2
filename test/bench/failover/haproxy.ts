import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitForPort } from '@pgfleet/postgres';
import { startDaemon, type Daemon } from './processes.js';

/** One PostgreSQL node behind the proxy, with the port of the REST API that says whether it is the primary. */
export interface ProxiedNode {
  name: string;
  pgPort: number;
  restPort: number;
}

export interface Haproxy {
  port: number;
  daemon: Daemon;
}

/** Health checks: every 500 ms, down after 2 failures, up after 1 success. */
export const HAPROXY_CHECKS = 'inter 500ms fall 2 rise 1';

/**
 * HAProxy in TCP mode in front of the nodes, as Patroni's documentation sets it up: a node takes
 * connections only while `OPTIONS /primary` on its REST API answers 200, and its sessions are
 * cut when it is marked down (`on-marked-down shutdown-sessions`). Intervals shortened (see
 * HAPROXY_CHECKS) so the proxy adds little to a failover. Runs in the foreground (`-db`).
 */
export async function startHaproxy(dir: string, nodes: readonly ProxiedNode[]): Promise<Haproxy> {
  const port = await freePort();
  const config = [
    'global',
    '  maxconn 1000',
    'defaults',
    '  mode tcp',
    '  timeout connect 1s',
    '  timeout client 30m',
    '  timeout server 30m',
    '  timeout check 1s',
    'listen primary',
    `  bind 127.0.0.1:${port}`,
    '  option httpchk OPTIONS /primary',
    '  http-check expect status 200',
    `  default-server ${HAPROXY_CHECKS} on-marked-down shutdown-sessions`,
    ...nodes.map((n) => `  server ${n.name} 127.0.0.1:${n.pgPort} maxconn 100 check port ${n.restPort}`),
    '',
  ].join('\n');
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  const daemon = startDaemon('haproxy', 'haproxy', ['-db', '-f', file], { logFile: join(dir, 'haproxy.log') });
  try {
    await waitForPort(port, '127.0.0.1', 10_000);
  } catch (error) {
    await daemon.stop(1000);
    throw error;
  }
  return { port, daemon };
}
