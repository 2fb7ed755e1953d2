import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendCommand } from '@pgfleet/bus';
import { CLI, runCli, sleep, startPlatform, type CliResult, type TestPlatform } from './harness.js';

interface ClusterRow {
  name: string;
  accountId: string;
  status: string;
}
interface AuditEvent {
  type: string;
  actor: { kind: string; id: string };
}

let t: TestPlatform;
const tokens: Record<string, string> = {};

/** The real CLI with an account's token in PGFLEET_TOKEN (the admin's is the home's api-token file). */
const as = async (token: string | undefined, ...args: string[]): Promise<CliResult> => {
  if (token === undefined) return t.cli(...args);
  const r = await runCli({ ...t.env, PGFLEET_TOKEN: token }, args);
  if (r.stderr) t.logs.push(`[cli ${args[0] ?? ''}] ${r.stderr}`);
  return r;
};
const json = async <T>(token: string | undefined, ...args: string[]): Promise<T> => {
  const r = await as(token, ...args, '--json');
  if (r.code !== 0) throw new Error(`pgfleet ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
};
/** A refused CLI call: its exit code and the `{ code, message }` it printed with --json. */
const refused = async (token: string | undefined, ...args: string[]) => {
  const r = await as(token, ...args, '--json');
  return { exit: r.code, ...(JSON.parse(r.stdout) as { code: string; message: string }) };
};
/** One HTTP request to the API with a bearer token: its status and JSON body. */
const http = async (token: string, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${t.platform.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as { code?: string; message?: string } };
};
const storedEventsText = async () => {
  const client = new pg.Client({ connectionString: t.platform.eventstoreUrl });
  await client.connect();
  try {
    return JSON.stringify((await client.query('SELECT * FROM pgfleet_eventstore.events')).rows);
  } finally {
    await client.end();
  }
};

/** The clusters of the ClusterRequested events `events tail --since 2020` prints within `ms` with this token. */
async function tailRequested(token: string | undefined, ms: number): Promise<string[]> {
  const env = token === undefined ? t.env : { ...t.env, PGFLEET_TOKEN: token };
  const args = ['events', 'tail', '--type', 'ClusterRequested', '--since', '2020-01-01T00:00:00Z', '--json'];
  const tail = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  tail.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await sleep(ms);
  tail.kill('SIGTERM');
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  return lines.map((l) => (JSON.parse(l) as { data: { clusterId: string } }).data.clusterId);
}

beforeAll(async () => {
  t = await startPlatform();
});
afterAll(async () => {
  await t?.cleanup();
});

describe('accounts and tokens, end to end through the pgfleet CLI', () => {
  it('the admin creates two accounts; each token is printed once and only its sha256 is stored', async () => {
    for (const name of ['acme', 'globex']) {
      const created = await json<{ accountId: string; token: string }>(undefined, 'account', 'create', name);
      expect(created.accountId).toBe(name);
      expect(created.token).toMatch(new RegExp(`^pgf_${name}\\.[A-Za-z0-9_-]{43}$`));
      tokens[name] = created.token;
    }
    const again = await refused(undefined, 'account', 'create', 'acme');
    expect(again).toMatchObject({ exit: 1, code: 'ACCOUNT_EXISTS' });
    const stored = await storedEventsText();
    expect(stored).toContain(createHash('sha256').update(tokens.acme!).digest('hex'));
    expect(stored).not.toContain(tokens.acme!.split('.')[1]);
    expect(stored).not.toContain(tokens.globex!.split('.')[1]);
  });

  it(
    "B can neither list, show, read the URL of, back up, restore into, plan, audit nor delete A's cluster: " +
      '404 "no cluster named …" each, as for a cluster that does not exist',
    async () => {
      const a = tokens.acme!;
      const b = tokens.globex!;
      const created = await as(a, 'cluster', 'create', 'shop', '--plan', 'sandbox');
      expect(created.code, created.stderr).toBe(0);
      expect(await json<ClusterRow[]>(a, 'cluster', 'list')).toEqual([
        expect.objectContaining({ name: 'shop', accountId: 'acme', status: 'ready' }),
      ]);

      expect(await json<ClusterRow[]>(b, 'cluster', 'list')).toEqual([]);
      for (const args of [
        ['cluster', 'show', 'shop'],
        ['cluster', 'url', 'shop'],
        ['backup', 'create', 'shop'],
        ['backup', 'list', 'shop'],
        ['cluster', 'delete', 'shop'],
        ['audit', 'shop'],
        ['operation', 'list', 'shop'],
      ]) {
        const r = await refused(b, ...args);
        expect(r, args.join(' ')).toMatchObject({
          exit: 1,
          code: 'CLUSTER_NOT_FOUND',
          message: 'no cluster named shop',
        });
      }
      // Over HTTP: the same answer as for a name no account uses.
      const missing = await http(b, 'GET', '/v1/clusters/no-such-cluster');
      for (const [method, path, body] of [
        ['GET', '/v1/clusters/shop', undefined],
        ['GET', '/v1/clusters/shop/url', undefined],
        ['POST', '/v1/clusters/shop/backups', {}],
        ['POST', '/v1/clusters/shop/backups/b1/restore', {}],
        ['POST', '/v1/clusters/shop/pitr/restore', { to: new Date().toISOString(), inPlace: true }],
        ['POST', '/v1/clusters/shop/plan', { plan: 'starter-512' }],
        ['DELETE', '/v1/clusters/shop', undefined],
      ] as const) {
        const r = await http(b, method, path, body);
        expect([r.status, r.body.code], `${method} ${path}`).toEqual([missing.status, missing.body.code]);
        expect(r.status).toBe(404);
      }
      // Naming A's account is refused, whether or not it exists; A's billing is not found.
      expect(await refused(b, '--account', 'acme', 'cluster', 'list')).toMatchObject({
        exit: 1,
        code: 'ACCOUNT_FORBIDDEN',
      });
      expect(await http(b, 'GET', '/v1/accounts/acme/usage')).toMatchObject({
        status: 404,
        body: { code: 'ACCOUNT_NOT_FOUND' },
      });
      // A's cluster is untouched.
      expect((await json<{ status: string }>(a, 'cluster', 'show', 'shop')).status).toBe('ready');
    },
  );

  it(
    "over NATS, a command scoped to B (meta.account) about A's cluster is refused like a missing cluster; " +
      "one naming A's account for B is forbidden; A's own scope passes; events tail shows each account its own",
    async () => {
      const { clusterId } = await json<{ clusterId: string }>(tokens.acme, 'cluster', 'show', 'shop');
      const nc = await t.connectNats('e2e-scoped-commands');
      try {
        const asGlobex = { account: 'globex', actor: { kind: 'account' as const, id: 'globex' } };
        const to = new Date().toISOString();
        for (const [service, command, data] of [
          ['provisioning', 'DeleteCluster', { clusterId }],
          ['provisioning', 'ChangePlan', { clusterId, plan: 'starter-512' }],
          ['backup', 'RequestBackup', { clusterId }],
          ['backup', 'RestoreBackup', { clusterId, backupId: 'b1' }],
          ['pitr', 'RestoreToTime', { clusterId, to, inPlace: true }],
          ['ha', 'FailoverCluster', { clusterId }],
          ['networking', 'ExposeCluster', { clusterId }],
        ] as const) {
          const reply = await sendCommand(nc, service, command as never, data, asGlobex);
          expect(reply, `${service} ${command}`).toMatchObject({ ok: false, code: 'CLUSTER_NOT_FOUND' });
        }
        const create = { name: 'sneaky', plan: 'sandbox', accountId: 'acme' };
        expect(await sendCommand(nc, 'provisioning', 'CreateCluster', create, asGlobex)).toMatchObject({
          ok: false,
          code: 'ACCOUNT_FORBIDDEN',
          details: { field: 'accountId' },
        });
        // Scoped to acme, the same kind of command reaches the service's own rule.
        const retry = await sendCommand(nc, 'provisioning', 'RetryCluster', { clusterId }, { account: 'acme' });
        expect(retry).toMatchObject({ ok: false });
        expect(retry.ok ? '' : retry.code).not.toBe('CLUSTER_NOT_FOUND');
      } finally {
        await nc.close();
      }
      expect((await json<{ status: string }>(tokens.acme, 'cluster', 'show', 'shop')).status).toBe('ready');
      // events tail shows an account its own clusters' events only; the admin all of them.
      const [mine, theirs, all] = await Promise.all(
        [tokens.acme, tokens.globex, undefined].map((token) => tailRequested(token, 6000)),
      );
      expect(mine).toEqual([clusterId]);
      expect(theirs).toEqual([]);
      expect(all).toContain(clusterId);
    },
  );

  it("the admin sees A's cluster with --account; the audit shows who acted (account:acme, admin)", async () => {
    // The admin's default account is `default`: acme's cluster is not there.
    expect((await refused(undefined, 'cluster', 'show', 'shop')).code).toBe('CLUSTER_NOT_FOUND');
    const listed = await json<ClusterRow[]>(undefined, '--account', 'acme', 'cluster', 'list');
    expect(listed.map((c) => c.name)).toEqual(['shop']);
    const url = await as(undefined, 'cluster', 'url', 'shop', '--account', 'acme');
    expect(url.code, url.stderr).toBe(0);
    expect(url.stdout.trim()).toMatch(/^postgresql:\/\/app:[^@]+@127\.0\.0\.1:\d+\/app$/);

    const audit = await json<AuditEvent[]>(tokens.acme, 'audit', 'shop', '--type', 'ClusterRequested');
    expect(audit.map((e) => e.actor)).toEqual([{ kind: 'account', id: 'acme' }]);
    const table = await as(tokens.acme, 'audit', 'shop', '--type', 'ClusterRequested');
    expect(table.stdout).toContain('account:acme');

    const deleted = await as(undefined, '--account', 'acme', 'cluster', 'delete', 'shop');
    expect(deleted.code, deleted.stderr).toBe(0);
    const afterDelete = await json<AuditEvent[]>(
      undefined,
      'audit',
      'shop',
      '--account',
      'acme',
      '--type',
      'ClusterDeletionRequested',
    );
    expect(afterDelete.map((e) => e.actor)).toEqual([{ kind: 'admin', id: 'admin' }]);
  });

  it('a rotated token stops working at once and its successor works; a revoked token gets 401', async () => {
    const old = tokens.acme!;
    const rotated = await json<{ token: string }>(undefined, 'account', 'token', 'rotate', 'acme');
    expect(rotated.token).not.toBe(old);
    expect(await refused(old, 'cluster', 'list')).toMatchObject({ exit: 1, code: 'UNAUTHORIZED' });
    expect((await http(old, 'GET', '/v1/clusters')).status).toBe(401);
    // --token wins over PGFLEET_TOKEN.
    const withOption = await as(old, '--token', rotated.token, 'cluster', 'list', '--json');
    expect(withOption.code, withOption.stderr).toBe(0);

    const revoked = await as(undefined, 'account', 'token', 'revoke', 'globex');
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(await refused(tokens.globex, 'cluster', 'list')).toMatchObject({ exit: 1, code: 'UNAUTHORIZED' });
    expect((await http(tokens.globex!, 'GET', '/v1/clusters')).status).toBe(401);

    // An account's token manages no accounts.
    expect(await refused(rotated.token, 'account', 'create', 'evil')).toMatchObject({ exit: 1, code: 'ADMIN_ONLY' });
    expect(t.logs.join('\n')).not.toContain(rotated.token.split('.')[1]);
  });
});
