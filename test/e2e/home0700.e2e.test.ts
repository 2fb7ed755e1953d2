import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { up, type Platform } from '@pgfleet/api';
import { freePort, placedDataRoot, PLACED_DATA_ROOTS } from '@pgfleet/postgres';
import { gatewaysUnder, postmastersUnder, psql, runCli, waitFor } from './harness.js';

// The most common first run: root clones the repository into its home directory (0700 on Debian)
// and runs `npm start` there, with the default PGFLEET_HOME (./.pgfleet inside the clone).

interface Shown {
  clusterId: string;
  status: string;
  nodes: { nodeId: string; role: string; state: string; port: number }[];
}

const mode = (p: string) => statSync(p).mode & 0o7777;
const startedIn = process.cwd();
let privateDir: string;
let clone: string;
let home: string;
let root: string | undefined;
let env: NodeJS.ProcessEnv;
let platform: Platform | undefined;
const logs: string[] = [];

const cli = (...args: string[]) => runCli(env, args);
const json = async <T>(...args: string[]): Promise<T> => {
  const r = await cli(...args, '--json');
  if (r.code !== 0) throw new Error(`pgfleet ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
};
/** Polls `cluster show` (a deleted cluster may no longer be shown) rather than following events. */
const statusOf = async (name: string) => {
  const r = await cli('cluster', 'show', name, '--json');
  return r.code === 0 ? (JSON.parse(r.stdout) as Shown).status : 'not shown';
};

beforeAll(async () => {
  // Short: a gateway's admin socket path under the home must fit the kernel's 107 bytes.
  privateDir = mkdtempSync(join(tmpdir(), 'pg0700-'));
  chmodSync(privateDir, 0o700);
  clone = join(privateDir, 'clone');
  mkdirSync(clone, { mode: 0o755 });
  home = join(clone, '.pgfleet');
  // Like `npm start` in the clone: the working directory is the clone (the platform's services and
  // the PostgreSQL tools it runs inherit it), PGFLEET_HOME is left to its default.
  process.chdir(clone);
  env = {
    ...process.env,
    PGFLEET_NATS_PORT: String(await freePort()),
    PGFLEET_EVENTSTORE_PORT: String(await freePort()),
    PGFLEET_API_PORT: String(await freePort()),
    PGFLEET_LOG_LEVEL: 'warn',
  };
  delete env.PGFLEET_HOME;
  delete env.PGFLEET_DATA_ROOT;
  platform = await up(env, (m) => logs.push(m));
});

afterAll(async () => {
  await platform?.stop().catch(() => undefined);
  for (const dir of [home, root].filter((d): d is string => d !== undefined)) {
    for (const pid of gatewaysUnder(dir)) process.kill(pid, 'SIGKILL');
    for (const pid of postmastersUnder(dir)) process.kill(pid, 'SIGKILL');
  }
  process.chdir(startedIn);
  if (root) rmSync(root, { recursive: true, force: true });
  try {
    rmdirSync(PLACED_DATA_ROOTS); // only when no other home placed its data there
  } catch {
    /* other data roots remain */
  }
  if (privateDir) rmSync(privateDir, { recursive: true, force: true });
});

describe('a clone under a 0700 directory: npm start and a cluster work without touching its modes', () => {
  it('starts with its PostgreSQL data where the postgres OS user reaches it; pgfleet state stays in the home', () => {
    expect(platform!.home).toBe(home);
    root = readFileSync(join(home, 'data-root'), 'utf8').trim();
    expect(root).toBe(placedDataRoot(home));
    expect(mode(root)).toBe(0o711);
    expect(existsSync(join(root, 'eventstore', 'PG_VERSION'))).toBe(true);
    expect(postmastersUnder(join(root, 'eventstore'))).toHaveLength(1);
    for (const own of ['api-token', 'platform.json', 'secrets', 'nats']) expect(existsSync(join(home, own))).toBe(true);
    expect(existsSync(join(root, 'secrets'))).toBe(false);
  });

  it('creates a starter cluster psql reaches through its URL, with verify-full against the cluster CA', async () => {
    const created = await cli('cluster', 'create', 'shop', '--plan', 'starter-512', '--no-wait');
    expect(created.code, created.stderr + created.stdout).toBe(0);
    expect(
      await waitFor('shop to be ready', async () => {
        const status = await statusOf('shop');
        return status === 'ready' || status === 'failed' ? status : undefined;
      }),
    ).toBe('ready');
    const url = (await cli('cluster', 'url', 'shop')).stdout.trim();
    psql(url, 'CREATE TABLE orders(id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 10)');
    expect(psql(url, 'SELECT count(*) FROM orders')).toBe('10');

    const ca = await cli('cluster', 'ca', 'shop');
    expect(ca.code, ca.stderr).toBe(0);
    const caFile = join(home, 'client-ca.crt');
    writeFileSync(caFile, ca.stdout);
    expect(
      psql(
        `${url}?sslmode=verify-full&sslrootcert=${caFile}`,
        'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      ),
    ).toBe('t');

    const { clusterId, nodes } = await json<Shown>('cluster', 'show', 'shop');
    expect(nodes).toEqual([expect.objectContaining({ role: 'leader', state: 'running' })]);
    expect(postmastersUnder(join(root!, 'clusters', clusterId))).toHaveLength(1);
  });

  it('deletes the cluster: its server stops and no node of it remains in the data root', async () => {
    const { clusterId } = await json<Shown>('cluster', 'show', 'shop');
    const deleted = await cli('cluster', 'delete', 'shop', '--no-wait');
    expect(deleted.code, deleted.stderr).toBe(0);
    await waitFor(
      'shop to be deleted',
      async () => ['deleted', 'not shown'].includes(await statusOf('shop')) || undefined,
    );
    await waitFor(
      'the node server to stop',
      () => postmastersUnder(join(root!, 'clusters', clusterId)).length === 0,
      30_000,
    );
    const left = existsSync(join(root!, 'clusters', clusterId)) ? readdirSync(join(root!, 'clusters', clusterId)) : [];
    expect(left.filter((entry) => entry !== 'tls')).toEqual([]);
  });

  it('stops the platform, and left the 0700 directory and the clone as they were', async () => {
    await platform!.stop();
    platform = undefined;
    expect(postmastersUnder(root!)).toHaveLength(0);
    expect(mode(privateDir)).toBe(0o700);
    expect(statSync(privateDir).uid).toBe(0);
    expect(mode(clone)).toBe(0o755);
  });
});
