import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { registerAuthentication } from './authentication.js';
import { IdempotencyRecords, keepAnswerOutOfRecords, registerIdempotency } from './idempotency.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A tiny API with one counting action: what the records must make happen once per key. */
function api(records: IdempotencyRecords, work: () => Promise<void> = async () => undefined) {
  const app = Fastify();
  registerIdempotency(app, records);
  let runs = 0;
  app.post('/v1/things', async (req, reply) => {
    runs++;
    await work();
    return reply.code(202).send({ run: runs, body: req.body });
  });
  app.post('/v1/broken', async (_req, reply) => {
    runs++;
    return reply.code(503).send({ code: 'SERVICE_UNAVAILABLE', message: 'no service' });
  });
  return { app, runs: () => runs };
}

const post = (app: ReturnType<typeof Fastify>, key: string | undefined, body: unknown, url = '/v1/things') =>
  app.inject({ method: 'POST', url, payload: body as object, headers: key ? { 'idempotency-key': key } : {} });

describe('Idempotency-Key', () => {
  it('the same key with the same body does the action once and answers the first answer again', async () => {
    const { app, runs } = api(new IdempotencyRecords());
    const first = await post(app, 'k1', { name: 'a' });
    const again = await post(app, 'k1', { name: 'a' });
    expect(first.statusCode).toBe(202);
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual(first.json());
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(runs()).toBe(1);
    await post(app, undefined, { name: 'a' });
    await post(app, undefined, { name: 'a' });
    expect(runs()).toBe(3); // without a key every request acts
  });

  it('the same key with another body (or path) is refused with 409 IDEMPOTENCY_KEY_REUSED', async () => {
    const { app, runs } = api(new IdempotencyRecords());
    await post(app, 'k2', { name: 'a' });
    const other = await post(app, 'k2', { name: 'b' });
    expect(other.statusCode).toBe(409);
    expect(other.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', details: { field: 'Idempotency-Key' } });
    expect((await post(app, 'k2', { name: 'a' }, '/v1/broken')).statusCode).toBe(409);
    expect(runs()).toBe(1);
  });

  it('a repeat sent while the first still runs waits for it and gets its answer; nothing runs twice', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const { app, runs } = api(new IdempotencyRecords(), () => gate);
    const first = post(app, 'k3', { name: 'a' });
    const second = post(app, 'k3', { name: 'a' });
    await new Promise((r) => setTimeout(r, 50));
    release();
    const [a, b] = await Promise.all([first, second]);
    expect(b.json()).toEqual(a.json());
    expect(runs()).toBe(1);
  });

  it('a server error is not remembered: the same key may be sent again and acts again', async () => {
    const { app, runs } = api(new IdempotencyRecords());
    expect((await post(app, 'k4', {}, '/v1/broken')).statusCode).toBe(503);
    expect((await post(app, 'k4', {}, '/v1/broken')).statusCode).toBe(503);
    expect(runs()).toBe(2);
  });

  it('answers survive a restart of the API (kept in a file under the home); a bad key is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgfleet-idem-'));
    dirs.push(dir);
    const file = join(dir, 'api', 'idempotency.jsonl');
    const before = api(new IdempotencyRecords(file));
    const first = await post(before.app, 'k5', { name: 'a' });
    await before.app.close();
    const after = api(new IdempotencyRecords(file));
    const again = await post(after.app, 'k5', { name: 'a' });
    expect(again.json()).toEqual(first.json());
    expect(after.runs()).toBe(0);
    expect((await post(after.app, 'k5', { name: 'b' })).statusCode).toBe(409);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(1);
    const bad = await post(after.app, 'has space', {});
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'Idempotency-Key' } });
  });

  it("is the caller's: another token sending the same key is refused, not given the first answer", async () => {
    const app = Fastify();
    const acmeToken = `pgf_acme.${'a'.repeat(43)}`;
    const directory = { accountOf: async (t: string) => (t === acmeToken ? 'acme' : undefined) };
    registerAuthentication(app, { adminToken: 'admin', directory });
    registerIdempotency(app, new IdempotencyRecords());
    app.post('/v1/things', async () => ({ secret: 'the first caller only' }));
    const send = (token: string) =>
      app.inject({
        method: 'POST',
        url: '/v1/things',
        payload: {},
        headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'k-shared' },
      });
    expect((await send('admin')).statusCode).toBe(200);
    const other = await send(acmeToken);
    expect([other.statusCode, other.json().code]).toEqual([409, 'IDEMPOTENCY_KEY_REUSED']);
    expect((await send('admin')).headers['idempotent-replayed']).toBe('true');
  });

  it('keeps no answer that carries a secret: neither in memory nor in the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'idem-'));
    dirs.push(dir);
    const file = join(dir, 'idempotency.jsonl');
    const app = Fastify();
    registerIdempotency(app, new IdempotencyRecords(file));
    let runs = 0;
    app.post('/v1/tokens', async (req) => {
      keepAnswerOutOfRecords(req);
      return { token: `secret-${++runs}` };
    });
    const first = await post(app, 'k-token', {}, '/v1/tokens');
    const again = await post(app, 'k-token', {}, '/v1/tokens');
    expect([first.json().token, again.json().token]).toEqual(['secret-1', 'secret-2']);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(readFileSync(file, { encoding: 'utf8', flag: 'a+' })).not.toContain('secret-');
  });
});
