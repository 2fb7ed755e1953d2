import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { startNatsServer, type NatsServerHandle } from '@pgfleet/bus';
import { freePort, ownedTempDir, startLocalServer, type LocalServer } from '@pgfleet/postgres';

/**
 * PostgreSQL settings of the benchmark server: full durability (every commit is flushed to
 * disk before it returns), with memory and WAL sizes a small production server would have.
 */
export const PG_SETTINGS: Record<string, string | number> = {
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
  wal_sync_method: 'fdatasync',
  shared_buffers: "'512MB'",
  max_wal_size: "'4GB'",
  max_connections: 100,
};

export interface BenchServers {
  pg: LocalServer;
  pgMajor: number;
  nats: NatsServerHandle;
  natsVersion: string;
  /** Stop both servers and remove their directories (idempotent). */
  cleanup(): Promise<void>;
}

/** A fresh PostgreSQL and nats-server on free ports in temporary directories, stopped even on Ctrl-C. */
export async function startBenchServers(pgMajor = 15): Promise<BenchServers> {
  const dirs: string[] = [];
  const stops: (() => Promise<void>)[] = [];
  let cleaned: Promise<void> | undefined;
  const cleanup = () => {
    cleaned ??= (async () => {
      for (const stop of stops.reverse()) await stop().catch((e: unknown) => console.error('cleanup:', e));
      for (const dir of dirs) await rm(dir, { recursive: true, force: true });
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    })();
    return cleaned;
  };
  function onSignal(signal: NodeJS.Signals) {
    console.error(`\n${signal}: stopping the benchmark servers`);
    void cleanup().finally(() => process.exit(130));
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const pgRoot = await ownedTempDir('pgfleet-bench-pg-');
    dirs.push(pgRoot);
    const pg = await startLocalServer({
      dataDir: join(pgRoot, 'data'),
      port: await freePort(),
      major: pgMajor,
      settings: PG_SETTINGS,
    });
    stops.push(() => pg.stop('fast'));

    const natsRoot = await mkdtemp(join(tmpdir(), 'pgfleet-bench-nats-'));
    dirs.push(natsRoot);
    const nats = await startNatsServer({ port: await freePort(), storeDir: join(natsRoot, 'js') });
    stops.push(() => nats.stop());

    return { pg, pgMajor, nats, natsVersion: natsServerVersion(), cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

function natsServerVersion(): string {
  try {
    return execFileSync('nats-server', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'nats-server (version unknown)';
  }
}
