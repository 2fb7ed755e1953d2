import { join } from 'node:path';
import { freePort } from '@pgfleet/postgres';
import { startDaemon, type Daemon } from './processes.js';

export interface Etcd {
  /** `127.0.0.1:PORT` of the client API (v3 gRPC gateway at /v3, /v3beta). */
  endpoint: string;
  daemon: Daemon;
}

/**
 * One etcd member (Debian's etcd-server 3.4: the v2 API is off by default, so Patroni talks to it
 * through its `etcd3` section) on free ports, data in `dir/etcd`; resolves once /health says true.
 */
export async function startEtcd(dir: string, timeoutMs = 30_000): Promise<Etcd> {
  const client = `127.0.0.1:${await freePort()}`;
  const peer = `http://127.0.0.1:${await freePort()}`;
  const daemon = startDaemon(
    'etcd',
    'etcd',
    [
      '--name=bench',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://${client}`,
      `--advertise-client-urls=http://${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=bench=${peer}`,
      '--initial-cluster-state=new',
    ],
    { logFile: join(dir, 'etcd.log'), cwd: dir },
  );
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const health = await fetch(`http://${client}/health`, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.json() as Promise<{ health?: string }>)
      .catch(() => undefined);
    if (health?.health === 'true') return { endpoint: client, daemon };
    if (performance.now() > deadline) {
      await daemon.stop(1000);
      throw new Error(`etcd is not healthy after ${timeoutMs} ms (see ${join(dir, 'etcd.log')})`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
