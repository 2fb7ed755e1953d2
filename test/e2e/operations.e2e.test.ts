import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, startPlatform, waitFor, type TestPlatform } from './harness.js';

interface Step {
  step: string;
  at: string | null;
}
interface Operation {
  operationId: string;
  kind: string;
  status: string;
  cluster: string;
  steps: Step[];
  requestedAt: string;
  finishedAt: string | null;
  result: Record<string, unknown> | null;
  error: { step: string; reason: string } | null;
}
interface Shown {
  clusterId: string;
  leader: string;
  nodes: { nodeId: string; role: string }[];
}

let t: TestPlatform;
const json = async <T>(...args: string[]): Promise<T> => {
  const r = await t.cli(...args, '--json');
  if (r.code !== 0) throw new Error(`pgfleet ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
};
const api = async (method: string, path: string, body?: unknown, key?: string) => {
  const token = readFileSync(`${t.home}/api-token`, 'utf8').trim();
  const res = await fetch(`${t.platform.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(key ? { 'idempotency-key': key } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown> & { details?: Record<string, unknown> },
    replayed: res.headers.get('idempotent-replayed'),
  };
};
const ended = (id: string) =>
  waitFor(
    `operation ${id} to end`,
    async () => {
      const op = await json<Operation>('operation', 'show', id);
      return op.status === 'running' ? undefined : op;
    },
    180_000,
  );
const follower = async (name: string) =>
  (await json<Shown>('cluster', 'show', name)).nodes.find((n) => n.role === 'follower')!.nodeId;

beforeAll(async () => {
  t = await startPlatform();
  const created = await t.cli('cluster', 'create', 'ops', '--plan', 'business-1024');
  if (created.code !== 0) throw new Error(created.stderr);
});
afterAll(async () => {
  await t?.cleanup();
});

describe('operations: long actions answer 202 with an operation the CLI follows on the event stream', () => {
  it(
    'switchover prints its steps as they complete, then what it always printed; ' +
      'operation show and list tell the steps with their times',
    async () => {
      const shown = await json<Shown>('cluster', 'show', 'ops');
      const to = await follower('ops');
      const r = await t.cli('cluster', 'switchover', 'ops', '--to', to);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(
        `cluster ops: ${to} is the leader (was ${shown.leader}, timeline 2); the gateway forwards to ${to}`,
      );
      const id = /operation (\S+) \(switchover\) started/.exec(r.stderr)?.[1];
      expect(id, r.stderr).toBeTruthy();
      expect(r.stderr).toMatch(/step \S+ done/);
      expect(r.stderr).toContain(`operation ${id} succeeded`);
      expect(r.stderr.indexOf('started')).toBeLessThan(r.stderr.indexOf('succeeded'));

      const op = await json<Operation>('operation', 'show', id!);
      expect(op).toMatchObject({
        operationId: id,
        kind: 'switchover',
        status: 'succeeded',
        cluster: 'ops',
        error: null,
      });
      expect(op.result).toMatchObject({ from: shown.leader, to, timeline: 2 });
      expect(op.steps.length).toBeGreaterThan(0);
      for (const s of op.steps) expect(Date.parse(s.at!)).toBeGreaterThanOrEqual(Date.parse(op.requestedAt));
      expect(Date.parse(op.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(op.steps.at(-1)!.at!));
      const human = await t.cli('operation', 'show', id!);
      expect(human.stdout).toContain(`operation ${id}: switchover on cluster ops, succeeded`);
      for (const s of op.steps) expect(human.stdout).toContain(s.step);

      const list = await json<Operation[]>('operation', 'list', 'ops');
      expect(list.map((o) => [o.operationId, o.kind, o.status])).toContainEqual([id, 'switchover', 'succeeded']);
    },
  );

  it(
    '--no-wait prints the operation id at once; ' +
      'a second operation on the busy cluster is refused OPERATION_IN_PROGRESS naming the first',
    async () => {
      const to = await follower('ops');
      const accepted = await json<{ operationId: string; kind: string }>(
        'cluster',
        'switchover',
        'ops',
        '--to',
        to,
        '--no-wait',
      );
      expect(accepted.kind).toBe('switchover');
      const busy = await api('POST', '/v1/clusters/ops/certs', { rotate: true });
      expect(busy.status).toBe(409);
      expect(busy.body).toMatchObject({
        code: 'OPERATION_IN_PROGRESS',
        details: { operationId: accepted.operationId, kind: 'switchover' },
      });
      expect((await ended(accepted.operationId)).status).toBe('succeeded');
      const plain = await t.cli('cluster', 'certs', 'ops', '--rotate', '--no-wait');
      expect(plain.code, plain.stderr).toBe(0);
      expect(plain.stdout).toMatch(
        /^operation \S+ \(certs-rotate\) started on ops; follow it with "pgfleet operation show \S+"/,
      );
      const id = /operation (\S+) \(certs-rotate\)/.exec(plain.stdout)![1]!;
      expect((await ended(id)).status).toBe('succeeded');
    },
  );

  it('Ctrl-C on a waiting CLI leaves the operation running and says so in one sentence; it ends well', async () => {
    const to = await follower('ops');
    const child = spawn(process.execPath, [CLI, 'cluster', 'switchover', 'ops', '--to', to], {
      env: t.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const id = await waitFor(
      'the operation to start',
      () => /operation (\S+) \(switchover\) started/.exec(stderr)?.[1],
      60_000,
    );
    child.kill('SIGINT');
    expect(await exit).toBe(130);
    const last = stderr.trim().split('\n').at(-1);
    expect(last).toBe(
      `interrupted: operation ${id} (switchover) goes on without waiting; ` +
        `follow it with "pgfleet operation show ${id}"`,
    );
    const op = await ended(id);
    expect(op.status).toBe('succeeded');
    expect((await json<Shown>('cluster', 'show', 'ops')).leader).toBe(to);
  });

  it(
    'Idempotency-Key: the same key and body answers the first answer and starts nothing twice, ' +
      'also after an API restart; another body is 409 IDEMPOTENCY_KEY_REUSED',
    async () => {
      const to = await follower('ops');
      const key = `e2e-${Date.now()}`;
      const before = (await json<Operation[]>('operation', 'list', 'ops')).length;
      const first = await api('POST', '/v1/clusters/ops/switchover', { to }, key);
      expect(first.status).toBe(202);
      const again = await api('POST', '/v1/clusters/ops/switchover', { to }, key);
      expect(again).toMatchObject({ status: 202, body: first.body, replayed: 'true' });
      const other = await api('POST', '/v1/clusters/ops/switchover', {}, key);
      expect(other.status).toBe(409);
      expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
      expect((await ended(String(first.body.operationId))).status).toBe('succeeded');
      await t.restart();
      const afterRestart = await api('POST', '/v1/clusters/ops/switchover', { to }, key);
      expect(afterRestart).toMatchObject({ status: 202, body: first.body, replayed: 'true' });
      expect(await json<Operation[]>('operation', 'list', 'ops')).toHaveLength(before + 1);
    },
  );

  it(
    'audit shows every event of the cluster from all its streams; ' +
      '--at folds them all: leader, gateways, TLS, backups available then',
    async () => {
      const beforeTls = new Date().toISOString();
      expect((await t.cli('cluster', 'tls', 'ops', '--force')).code).toBe(0);
      const backup = await json<{ id: string }>('backup', 'create', 'ops');
      const after = new Date().toISOString();
      const history = await json<{ streamId: string; type: string; globalPosition: string }[]>('audit', 'ops');
      const streams = new Set(history.map((e) => e.streamId.slice(0, e.streamId.indexOf('-'))));
      // The pitr stream joins once archiving is enabled (its first full backup may still be running), the
      // disk stream once the ha service measured the data.
      expect([...streams].sort()).toEqual(expect.arrayContaining(['backups', 'cluster', 'gateway']));
      const known = ['backups', 'cluster', 'gateway', 'pitr', 'disk'];
      expect([...streams].every((s) => known.includes(s))).toBe(true);
      const positions = history.map((e) => BigInt(e.globalPosition));
      expect(positions).toEqual([...positions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      const types = await json<{ type: string }[]>('audit', 'ops', '--type', 'TlsForced,BackupCompleted');
      expect(types.map((e) => e.type)).toEqual(['TlsForced', 'BackupCompleted']);

      type At = {
        leader: string;
        tls: { forced: boolean };
        gateways: { leader: string };
        backups: { available: { backupId: string; status: string }[] };
      };
      const then = await json<At>('audit', 'ops', '--at', beforeTls);
      expect(then.tls.forced).toBe(false);
      expect(then.backups.available.map((b) => b.backupId)).not.toContain(backup.id);
      const now = await json<At>('audit', 'ops', '--at', after);
      expect(now.tls.forced).toBe(true);
      expect(now.backups.available).toContainEqual(
        expect.objectContaining({ backupId: backup.id, status: 'completed' }),
      );
      expect(now.gateways.leader).toBe(now.leader);
      const human = await t.cli('audit', 'ops', '--at', after);
      expect(human.stdout).toContain('TLS forced');
      expect(human.stdout).toContain(`backups available: ${backup.id} (completed)`);
    },
  );
});
