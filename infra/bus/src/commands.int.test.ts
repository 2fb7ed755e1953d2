import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandReply, commandSubject, type CommandMeta } from '@pgfleet/contracts';
import { sendCommand, serveCommands, type CommandServer } from './commands.js';
import { startNatsHarness, type NatsHarness } from './testing/harness.js';

let h: NatsHarness;
let server: CommandServer;
/** What the handler did: stands for "appended to the store". */
const appended: { data: unknown; meta: CommandMeta }[] = [];
/** What the server logged, by level. */
const logged: { level: string; msg: string }[] = [];
const logAt = (level: string) => (_: Record<string, unknown>, msg: string) => logged.push({ level, msg });

beforeAll(async () => {
  h = await startNatsHarness();
  const logger = { debug: logAt('debug'), info: logAt('info'), warn: logAt('warn'), error: logAt('error') };
  server = serveCommands(
    h.nc,
    'provisioning',
    {
      CreateCluster: async (data, meta) => {
        appended.push({ data, meta });
        return { ok: true, streamId: `cluster-${data.name}`, version: 1 };
      },
      DeleteCluster: async (data) => {
        throw new Error(`disk on fire for ${data.clusterId}`);
      },
    },
    { logger },
  );
});
afterAll(async () => {
  await server?.stop();
  await h?.close();
});

async function rawRequest(subject: string, body: string): Promise<CommandReply> {
  const msg = await h.nc.request(subject, new TextEncoder().encode(body), { timeout: 5000 });
  return CommandReply.parse(msg.json());
}

describe('command request/reply', () => {
  it('accepts a valid command, with defaults applied and meta passed to the handler', async () => {
    const reply = await sendCommand(
      h.nc,
      'provisioning',
      'CreateCluster',
      { name: 'prod-db', plan: 'starter-512' },
      { correlationId: 'c-1', actor: { kind: 'user', id: 'ada' } },
    );
    expect(reply).toEqual({ ok: true, streamId: 'cluster-prod-db', version: 1 });
    expect(appended.at(-1)).toEqual({
      data: { name: 'prod-db', plan: 'starter-512', version: 15, accountId: 'default', durability: 'available' },
      meta: { correlationId: 'c-1', actor: { kind: 'user', id: 'ada' } },
    });
  });

  it('rejects a command with a bad field, naming the field, without calling the handler', async () => {
    const before = appended.length;
    const reply = await rawRequest(
      commandSubject('provisioning', 'CreateCluster'),
      JSON.stringify({ data: { name: 'Prod DB!', plan: 'starter-512' } }),
    );
    expect(reply.ok).toBe(false);
    if (reply.ok) return;
    expect(reply.code).toBe('VALIDATION_FAILED');
    expect(reply.message).toMatch(/name/);
    expect(reply.details).toMatchObject({ field: 'name', rule: 'invalid_format' });
    const unknownPlan = await sendCommand(h.nc, 'provisioning', 'CreateCluster', { name: 'prod-db', plan: 'gold' });
    expect(unknownPlan).toMatchObject({ ok: false, code: 'VALIDATION_FAILED', details: { field: 'plan' } });
    expect(appended.length).toBe(before);
  });

  it('rejects malformed JSON, a body without data, and bad meta without calling the handler', async () => {
    const before = appended.length;
    const subject = commandSubject('provisioning', 'CreateCluster');
    expect(await rawRequest(subject, '{"data": {"name": ')).toMatchObject({
      ok: false,
      code: 'MALFORMED_JSON',
      details: { field: '(root)', rule: 'json' },
    });
    expect(await rawRequest(subject, JSON.stringify({ name: 'prod-db', plan: 'sandbox' }))).toMatchObject({
      ok: false,
      code: 'VALIDATION_FAILED',
      details: { field: 'data' },
    });
    const badMeta = await rawRequest(
      subject,
      JSON.stringify({ data: { name: 'prod-db', plan: 'sandbox' }, meta: { actor: { kind: 'robot', id: 'x' } } }),
    );
    expect(badMeta).toMatchObject({ ok: false, code: 'VALIDATION_FAILED', details: { field: 'meta.actor.kind' } });
    expect(appended.length).toBe(before);
  });

  it("logs a rejection at info, and a readiness probe's rejection only at debug", async () => {
    logged.length = 0;
    const rejected = await sendCommand(h.nc, 'provisioning', 'CreateCluster', {});
    const probed = await sendCommand(h.nc, 'provisioning', 'CreateCluster', {}, undefined, { probe: true });
    for (const reply of [rejected, probed]) expect(reply).toMatchObject({ ok: false, code: 'VALIDATION_FAILED' });
    expect(logged.map((l) => l.level)).toEqual(['info', 'debug']);
    expect(logged[1]!.msg).toMatch(/^command rejected: invalid CreateCluster command: name/);
  });

  it('turns a handler exception into an INTERNAL rejection', async () => {
    const reply = await sendCommand(h.nc, 'provisioning', 'DeleteCluster', { clusterId: 'c1' });
    expect(reply).toEqual({ ok: false, code: 'INTERNAL', message: 'DeleteCluster failed: disk on fire for c1' });
  });

  it('reports a service nobody serves as SERVICE_UNAVAILABLE', async () => {
    const reply = await sendCommand(h.nc, 'backup', 'RequestBackup', { clusterId: 'c1' }, undefined, {
      timeoutMs: 2000,
    });
    expect(reply).toMatchObject({ ok: false, code: 'SERVICE_UNAVAILABLE' });
  });

  it('shares requests between replicas in one queue group', async () => {
    const other = await h.connect('replica-2');
    const calls: string[] = [];
    const handlers = (who: string) => ({
      RequestBackup: async (data: { clusterId: string }) => {
        calls.push(who);
        return { ok: true as const, streamId: `backups-${data.clusterId}`, version: calls.length };
      },
    });
    const a = serveCommands(h.nc, 'backup', handlers('a'));
    const b = serveCommands(other, 'backup', handlers('b'));
    await Promise.all([h.nc.flush(), other.flush()]);
    const replies = await Promise.all(
      Array.from({ length: 40 }, () => sendCommand(h.nc, 'backup', 'RequestBackup', { clusterId: 'c1' })),
    );
    await Promise.all([a.stop(), b.stop()]);
    expect(replies.every((r) => r.ok)).toBe(true);
    expect(calls).toHaveLength(40);
    expect(new Set(calls)).toEqual(new Set(['a', 'b']));
  });
});
