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
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPlan, uuidv7 } from '@pgfleet/contracts';
import {
  DATA_ROOT_RECORD,
  dataRoot,
  ensureNodeTls,
  freePort,
  placedDataRoot,
  PLACED_DATA_ROOTS,
  removeClusterTls,
  withClient,
} from '@pgfleet/postgres';
import { createProcessRuntime } from './processRuntime.js';
import { processesIn } from './postmaster.js';
import type { NodeInfo, NodeRuntime } from '../port.js';

const plan = findPlan('sandbox')!;
const clusterId = uuidv7();
const nodeId = uuidv7();
const mode = (p: string) => statSync(p).mode & 0o7777;
let privateDir: string;
let home: string;
let root: string;
let runtime: NodeRuntime;
let node: NodeInfo;

beforeAll(() => {
  // A clone in root's home directory on Debian: a 0700 directory owned by root above the home.
  privateDir = mkdtempSync(join(tmpdir(), 'pgfleet-0700-'));
  chmodSync(privateDir, 0o700);
  home = join(privateDir, 'clone', '.pgfleet');
  mkdirSync(home, { recursive: true, mode: 0o755 });
  runtime = createProcessRuntime({ home });
  root = dataRoot(home);
});

afterAll(async () => {
  if (runtime) for (const n of await runtime.list(clusterId)) await runtime.remove(n.nodeId).catch(() => undefined);
  if (root && root !== home) rmSync(root, { recursive: true, force: true });
  try {
    rmdirSync(PLACED_DATA_ROOTS); // only when no other home placed its data there
  } catch {
    /* other data roots remain */
  }
  if (privateDir) rmSync(privateDir, { recursive: true, force: true });
});

describe('process runtime with a home the postgres OS user cannot reach', () => {
  it('places the nodes in the data root of the home, which the home records', () => {
    expect(root).toBe(placedDataRoot(home));
    expect(readFileSync(join(home, DATA_ROOT_RECORD), 'utf8').trim()).toBe(root);
  });

  it('creates, initializes with TLS and starts a node there; the superuser reaches it over its socket', async () => {
    node = await runtime.create({ clusterId, nodeId, major: 15, port: await freePort() });
    expect(node.dataDir).toBe(join(root, 'clusters', clusterId, nodeId, 'data'));
    const tls = await ensureNodeTls(home, clusterId, nodeId);
    expect(tls.keyFile.startsWith(`${root}/`)).toBe(true);
    await runtime.initialize(nodeId, { plan, tls, forceTls: true });
    await runtime.start(nodeId);
    const rows = await withClient(
      await runtime.endpoint(nodeId),
      async (q) =>
        (
          await q.query<{ dir: string; ssl: string }>(
            "SELECT current_setting('data_directory') AS dir, current_setting('ssl') AS ssl",
          )
        ).rows,
    );
    expect(rows).toEqual([{ dir: node.dataDir, ssl: 'on' }]);
    const ran = await runtime.exec(nodeId, 'psql', ['-XAtqc', 'SELECT 1']);
    expect(ran).toMatchObject({ code: 0, stdout: '1\n' });
  });

  it('a second runtime over the same home finds the running node', async () => {
    expect(await createProcessRuntime({ home }).status(nodeId)).toMatchObject({ state: 'running', node });
  });

  it('removes the node from the data root: no data directory, no process, no cluster directory left', async () => {
    await runtime.remove(nodeId);
    expect(processesIn(node.dataDir)).toEqual([]);
    expect(existsSync(dirname(node.dataDir))).toBe(false);
    expect(readdirSync(join(root, 'clusters', clusterId))).toEqual(['tls']);
    removeClusterTls(home, clusterId);
    expect(existsSync(join(root, 'clusters', clusterId))).toBe(false);
  });

  it('never changed the modes of the directories above the home', () => {
    expect(mode(privateDir)).toBe(0o700);
    expect(statSync(privateDir).uid).toBe(0);
    expect(mode(join(privateDir, 'clone'))).toBe(0o755);
  });
});
