import { closeSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPlan, uuidv7 } from '@pgfleet/contracts';
import { createAppRoleAndDb, freePort, ownedTempDir, withClient } from '@pgfleet/postgres';
import { createProcessRuntime } from './processRuntime.js';
import type { NodeRuntime, ToolProcess } from '../port.js';

const plan = findPlan('sandbox')!;
const clusterId = uuidv7();
let home: string;
let runtime: NodeRuntime;
const source = 'dump-source';
const target = 'restore-target';

const sql = async (nodeId: string, text: string, database = 'postgres') =>
  withClient(await runtime.endpoint(nodeId, database), async (q) => (await q.query(text)).rows);

/** Everything the tool wrote to stdout, once it exited 0. */
async function output(tool: ToolProcess): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of tool.stdout) chunks.push(chunk as Buffer);
  await tool.done;
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  home = await ownedTempDir('pgfleet-tools-');
  runtime = createProcessRuntime({ home });
  await Promise.all(
    [source, target].map(async (nodeId) => {
      await runtime.create({ clusterId, nodeId, major: 15, port: await freePort() });
      await runtime.initialize(nodeId, { plan });
      await runtime.start(nodeId);
      await sql(nodeId, 'CREATE DATABASE shop');
    }),
  );
});

afterAll(async () => {
  delete process.env.PGFLEET_SECRET_CANARY;
  if (runtime) for (const n of await runtime.list(clusterId)) await runtime.remove(n.nodeId).catch(() => undefined);
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('PostgreSQL tools run against nodes of the process runtime', () => {
  it('pg_dump streams a custom-format dump that pg_restore, fed on stdin, restores into another node', async () => {
    await sql(source, 'CREATE TABLE items (id int PRIMARY KEY, note text)', 'shop');
    await sql(source, "INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 5000) g", 'shop');
    const dump = await output(runtime.runTool(source, 'pg_dump', ['--format=custom'], { database: 'shop' }));
    expect(dump.subarray(0, 5).toString()).toBe('PGDMP');

    const stdin = Readable.from([dump]);
    const restore = runtime.runTool(target, 'pg_restore', ['--no-owner'], { stdin, database: 'shop' });
    expect((await output(restore)).length).toBe(0);
    const restored = await sql(target, 'SELECT count(*)::int AS n, max(note) AS last FROM items', 'shop');
    expect(restored).toEqual([{ n: 5000, last: 'n999' }]);
  });

  it("writes into the caller's file descriptor with output: stdout ends empty, the file holds the dump", async () => {
    const file = join(home, 'direct.dump');
    const fd = openSync(file, 'w', 0o600); // the control plane's file: the tool's OS user could not open it
    try {
      const dump = runtime.runTool(source, 'pg_dump', ['--format=custom'], { database: 'shop', output: fd });
      expect((await output(dump)).length).toBe(0);
    } finally {
      closeSync(fd);
    }
    const dumped = readFileSync(file);
    expect(dumped.subarray(0, 5).toString()).toBe('PGDMP');
    const list = runtime.runTool(target, 'pg_restore', ['--list'], { stdin: Readable.from([dumped]) });
    expect((await output(list)).toString()).toMatch(/TABLE public items/);
  });

  it('a failing tool errors its stdout and rejects done with its last stderr lines', async () => {
    const dump = runtime.runTool(source, 'pg_dump', ['--format=custom'], { database: 'no_such_db' });
    await expect(output(dump)).rejects.toThrow(/^pg_dump failed: .*database "no_such_db" does not exist/);
    await expect(dump.done).rejects.toThrow(/^pg_dump failed: /);

    // Input the tool cannot use whole is a failure even when pg_restore gives up early.
    const stdin = Readable.from([Buffer.from('not a dump')]);
    const restore = runtime.runTool(target, 'pg_restore', [], { stdin, database: 'shop' });
    await expect(restore.done).rejects.toThrow(/^pg_restore failed: .*input file does not appear to be a valid/);
  });

  it('refuses through done, never by throwing, an unknown node or a tool that is not a client tool', async () => {
    const unknown = runtime.runTool('no-such-node', 'pg_dump', []);
    await expect(unknown.done).rejects.toMatchObject({ code: 'NODE_NOT_FOUND' });
    const serverTool = runtime.runTool(source, 'pg_ctl', ['stop']);
    await expect(output(serverTool)).rejects.toThrow(/pg_ctl is not a PostgreSQL client tool/);
    expect((await runtime.status(source)).state).toBe('running');
  });

  it('runs the tool without the control plane environment: a secret set in process.env is not there', async () => {
    process.env.PGFLEET_SECRET_CANARY = 'canary';
    const commands = ['\\getenv canary PGFLEET_SECRET_CANARY', '\\getenv home HOME', '\\echo :{?canary} :home'];
    const args = [...commands, 'SELECT current_user'].flatMap((c) => ['-c', c]);
    const psql = runtime.runTool(source, 'psql', ['-XAt', ...args]);
    expect((await output(psql)).toString().trim().split('\n')).toEqual(['FALSE /tmp', 'postgres']);
  });

  it('logs in as a role by password (not the superuser), through a passfile removed once the tool exited', async () => {
    const password = 'owner-secret-1';
    await createAppRoleAndDb(await runtime.endpoint(source), { role: 'owner1', database: 'owned', password });
    const args = [
      '-XAt',
      '-c',
      'SELECT session_user, current_user, usesuper FROM pg_user WHERE usename = session_user',
    ];
    const login = { user: 'owner1', password };
    const psql = runtime.runTool(source, 'psql', args, { database: 'owned', login });
    expect((await output(psql)).toString().trim()).toBe('owner1|owner1|f');
    const { socketDir } = (await runtime.status(source)).node!;
    expect(readdirSync(socketDir).filter((f) => f.startsWith('.pgfleet-tool-'))).toEqual([]);

    // The password is checked: a wrong one is refused (the superuser's trust on the socket does not apply).
    const wrong = runtime.runTool(source, 'psql', args, { database: 'owned', login: { ...login, password: 'nope' } });
    await expect(wrong.done).rejects.toThrow(/password authentication failed for user "owner1"/);
    expect(readdirSync(socketDir).filter((f) => f.startsWith('.pgfleet-tool-'))).toEqual([]);
  });

  it('kills a tool whose reader stops reading', async () => {
    // FETCH_COUNT: psql prints rows as they come instead of holding the whole (1 GB) result.
    const huge = "SELECT repeat('x', 1000) FROM generate_series(1, 1000000)";
    const psql = runtime.runTool(source, 'psql', ['-XAt', '-v', 'FETCH_COUNT=100', '-c', huge]);
    await new Promise((r) => psql.stdout.once('data', r));
    psql.stdout.destroy();
    await expect(psql.done).rejects.toThrow(/^psql failed: killed by SIGKILL$/);
  });
});
