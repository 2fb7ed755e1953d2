import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { jetstream } from '@nats-io/jetstream';
import {
  busAuthFromEnv,
  connectBus,
  PLATFORM_NATS_USERS,
  startNatsServer,
  startRelay,
  type NatsServerHandle,
} from '@pgfleet/bus';
import { createPostgresEventStore } from '@pgfleet/eventstore';
import { childEnv, dataRoot, freePort, startLocalServer, type LocalServer } from '@pgfleet/postgres';
import { startApiServer } from '../http/server.js';
import {
  apiTokenOf,
  fileSecret,
  platformHome,
  readPlatformFile,
  writePlatformFile,
  type PlatformFile,
} from './home.js';
import { lockHome } from './homeLock.js';
import { prepareNodeRuntime } from './nodeRuntime.js';
import { secureNats } from './natsSecurity.js';
import {
  SERVICES,
  serviceEntries,
  supervise,
  waitUntilAnswering,
  type ServiceOutput,
  type Supervised,
} from './services.js';

export interface Platform {
  home: string;
  apiUrl: string;
  natsUrl: string;
  eventstoreUrl: string;
  /**
   * The environment a process needs to reach NATS as this user (`platform`, `cli` or a service):
   * the platform CA and the user's credentials; empty with PGFLEET_NATS_INSECURE=1 or an external
   * server (PGFLEET_NATS_URL), whose credentials come from the environment.
   */
  natsEnv(user: string): Promise<NodeJS.ProcessEnv>;
  /** The service processes (name and current pid): what a chaos test kills. */
  services(): { name: string; pid: number | undefined }[];
  /**
   * Stop everything in a bounded time, whatever is in flight: first (synchronously) mark every
   * service as stopping so none is restarted, then close the API (cutting hung requests), the
   * services (SIGKILL after a grace period: their operations resume at the next start), the
   * relay, NATS connections, the event store and the embedded servers; last, free the home.
   */
  stop(): Promise<void>;
}

export interface UpOptions {
  /** Abort a start in progress (Ctrl-C during startup): what is started is stopped, and `up` throws. */
  signal?: AbortSignal;
  /** Every service's stdout and stderr, instead of the terminal (the e2e harness scans it for secrets). */
  output?: ServiceOutput;
}

/** A start interrupted by its signal. */
export class UpAborted extends Error {
  constructor() {
    super('pgfleet start interrupted; everything it had started is stopped');
    this.name = 'UpAborted';
  }
}

/** Each part of the platform gets this long to close; then the next one closes anyway. */
const CLOSE_MS = {
  api: 5000,
  services: 5000,
  relay: 3000,
  nats: 3000,
  store: 3000,
  eventstore: 10_000,
  runtime: 12_000,
};
/** What a stopping service gets before SIGKILL: enough to close cleanly, not to finish an operation. */
const SERVICE_GRACE_MS = 3000;

async function within(ms: number, what: string, work: () => Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not stop within ${ms / 1000} s`)), ms);
  });
  try {
    await Promise.race([work(), late]);
  } finally {
    clearTimeout(timer);
  }
}

const DEFAULT_PORTS = { natsPort: 14222, eventstorePort: 15432, apiPort: 7480, haAgentPort: 14480 };

async function choosePort(wanted: number): Promise<number> {
  const { createServer } = await import('node:net');
  const free = await new Promise<boolean>((resolve) => {
    const s = createServer()
      .once('error', () => resolve(false))
      .listen(wanted, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  return free ? wanted : freePort();
}

/**
 * Start the whole platform: NATS with JetStream and the control-plane PostgreSQL (unless
 * PGFLEET_NATS_URL / PGFLEET_EVENTSTORE_URL point elsewhere), the relay, the API and every
 * service. Cluster nodes are not children: they keep running when the platform stops.
 */
export async function up(
  env: NodeJS.ProcessEnv = process.env,
  log: (msg: string) => void = console.log,
  opts: UpOptions = {},
): Promise<Platform> {
  const entries = serviceEntries(SERVICES);
  const home = platformHome(env);
  mkdirSync(home, { recursive: true, mode: 0o755 });
  // Before anything is started or written: a second `up` on this home stops here, touching nothing.
  const lock = lockHome(home, () => readPlatformFile(home)?.apiPort);
  // What PostgreSQL must reach lives where the postgres OS user can reach it (the home, or a data
  // root elsewhere when the home is not reachable, e.g. a clone in root's 0700 home directory).
  const pgRoot = dataRoot(home);
  if (pgRoot !== home) log(`postgres   data in ${pgRoot} (the postgres OS user cannot reach ${home})`);
  const running: Supervised[] = [];
  let stopping = false;
  const markStopping = () => {
    stopping = true;
    for (const s of running) s.markStopping();
  };
  opts.signal?.addEventListener('abort', markStopping, { once: true });
  const closers: { what: string; ms: number; close: () => Promise<unknown> }[] = [];
  let stopped: Promise<void> | undefined;
  const stop = () => {
    markStopping();
    stopped ??= (async () => {
      for (const { what, ms, close } of closers.reverse()) {
        await within(ms, what, close).catch((e: unknown) => log(`stop: ${e instanceof Error ? e.message : String(e)}`));
      }
      closers.length = 0;
      opts.signal?.removeEventListener('abort', markStopping);
      lock.release();
    })();
    return stopped;
  };
  const started = () => {
    if (opts.signal?.aborted) throw new UpAborted();
  };
  try {
    // The nodes' runtime first (PGFLEET_RUNTIME=docker: the image, a local Podman service), stopped last.
    const runtime = await prepareNodeRuntime(home, env, log);
    if (runtime) closers.push({ what: 'the Podman service', ms: CLOSE_MS.runtime, close: () => runtime.stop() });
    started();
    const previous = readPlatformFile(home);
    const port = async (given: string | undefined, known: number | undefined, wanted: number) =>
      Number(given ?? known ?? (await choosePort(wanted)));
    const ports: PlatformFile = {
      natsPort: await port(env.PGFLEET_NATS_PORT, previous?.natsPort, DEFAULT_PORTS.natsPort),
      eventstorePort: await port(env.PGFLEET_EVENTSTORE_PORT, previous?.eventstorePort, DEFAULT_PORTS.eventstorePort),
      apiPort: await port(env.PGFLEET_API_PORT, previous?.apiPort, DEFAULT_PORTS.apiPort),
      haAgentPort: await port(env.PGFLEET_HA_AGENT_PORT, previous?.haAgentPort, DEFAULT_PORTS.haAgentPort),
    };
    let natsUrl = env.PGFLEET_NATS_URL;
    // Credentials of each process on NATS: from the environment for an external server, else
    // generated: TLS and one user per process with its own permissions, unless the development
    // flag PGFLEET_NATS_INSECURE=1 asks for a plaintext server that lets anyone in.
    let natsAuth = (_user: string): Promise<NodeJS.ProcessEnv> => Promise.resolve({});
    const insecure = env.PGFLEET_NATS_INSECURE === '1';
    if (!natsUrl) {
      const users = [...PLATFORM_NATS_USERS, ...SERVICES];
      const secured = insecure ? undefined : await secureNats(home, ports.natsPort, users);
      const nats: NatsServerHandle = await startNatsServer({
        port: ports.natsPort,
        storeDir: join(home, 'nats'),
        configFile: secured?.configFile,
        env: childEnv({}, env),
      });
      closers.push({ what: 'NATS', ms: CLOSE_MS.nats, close: () => nats.stop() });
      natsUrl = secured ? `tls://127.0.0.1:${ports.natsPort}` : nats.url;
      if (secured) {
        natsAuth = async (user) => ({
          PGFLEET_NATS_CA: secured.caFile,
          PGFLEET_NATS_USER: user,
          PGFLEET_NATS_PASSWORD: await secured.password(user),
        });
      }
      const how = secured
        ? 'TLS, a user per process'
        : 'PGFLEET_NATS_INSECURE=1: plaintext and no users, anyone on this machine can send any command';
      log(`nats       ${natsUrl} (JetStream in ${join(home, 'nats')}; ${how})`);
    }
    started();
    writePlatformFile(home, { ...ports, natsTls: !insecure && !env.PGFLEET_NATS_URL });
    let eventstoreUrl = env.PGFLEET_EVENTSTORE_URL;
    if (!eventstoreUrl) {
      const password = fileSecret(home, 'eventstore-password');
      const dataDir = join(pgRoot, 'eventstore');
      const server: LocalServer = await startLocalServer({ dataDir, port: ports.eventstorePort, password });
      // A fast stop that hangs (a stuck backend) becomes an immediate one.
      const stopServer = () =>
        within(CLOSE_MS.eventstore - 3000, 'the event store PostgreSQL (fast)', () => server.stop('fast')).catch(() =>
          server.stop('immediate'),
        );
      closers.push({ what: 'the event store PostgreSQL', ms: CLOSE_MS.eventstore, close: stopServer });
      await ensureDatabase(server.url('postgres'), 'pgfleet');
      eventstoreUrl = server.url('pgfleet');
      log(`eventstore postgres://127.0.0.1:${ports.eventstorePort}/pgfleet`);
    }
    started();
    const store = createPostgresEventStore({ connectionString: eventstoreUrl });
    await store.migrate();
    closers.push({ what: 'the event store client', ms: CLOSE_MS.store, close: () => store.close() });
    const platformAuth = busAuthFromEnv({ ...env, ...(await natsAuth('platform')) });
    const nc = await connectBus({ servers: natsUrl, name: 'pgfleet-up', ...platformAuth });
    const closeNats = () => within(CLOSE_MS.nats - 1000, 'NATS drain', () => nc.drain()).catch(() => nc.close());
    closers.push({ what: 'the NATS connection', ms: CLOSE_MS.nats, close: closeNats });
    const relay = startRelay({ store, js: jetstream(nc) });
    closers.push({ what: 'the relay', ms: CLOSE_MS.relay, close: () => relay.stop() });
    await relay.caughtUp();
    started();

    const serviceEnv = {
      ...env,
      ...{ PGFLEET_HOME: home, PGFLEET_NATS_URL: natsUrl, PGFLEET_EVENTSTORE_URL: eventstoreUrl },
      // The gateways' HAProxy asks the HA service there whether a node takes writes (or reads).
      PGFLEET_HA_AGENT: env.PGFLEET_HA_AGENT ?? `127.0.0.1:${ports.haAgentPort}`,
    };
    for (const [name, entry] of entries) {
      running.push(supervise(name, entry, { ...serviceEnv, ...(await natsAuth(name)) }, log, opts.output));
    }
    // An operation in flight is not waited for: it is left running and resumed at the next start.
    closers.push({
      what: 'the services',
      ms: CLOSE_MS.services,
      close: () => Promise.all(running.map((s) => s.stop(SERVICE_GRACE_MS))),
    });
    started();
    const silent = await waitUntilAnswering(
      nc,
      running.map((s) => s.name),
      60_000,
      () => stopping,
    );
    started();
    if (silent.length > 0) log(`services   ${silent.join(', ')} not answering commands yet`);

    const api = await startApiServer({ port: ports.apiPort, token: apiTokenOf(home), store, nc, home });
    closers.push({ what: 'the API', ms: CLOSE_MS.api, close: () => api.close() });
    started();
    const apiUrl = `http://127.0.0.1:${ports.apiPort}`;
    log(`api        ${apiUrl} (token in ${join(home, 'api-token')})`);
    log(`services   ${running.map((s) => s.name).join(', ') || '(none)'}`);
    const services = () => running.map((s) => ({ name: s.name, pid: s.pid }));
    return { home, apiUrl, natsUrl, eventstoreUrl, stop, services, natsEnv: natsAuth };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${database}`);
  } finally {
    await client.end();
  }
}
