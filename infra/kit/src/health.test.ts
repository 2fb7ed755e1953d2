import { afterEach, describe, expect, it } from 'vitest';
import { startHealthServer, type HealthServer } from './health.js';

let server: HealthServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('/healthz', () => {
  it('answers 200 with status ok when every check passes (port 0 = any free port)', async () => {
    server = await startHealthServer({ service: 'backup', port: 0 });
    expect(server.port).toBeGreaterThan(0);
    server.addCheck('nats', () => true);
    server.addCheck('store', async () => undefined);
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'ok',
      service: 'backup',
      checks: { nats: { ok: true }, store: { ok: true } },
    });
  });

  it('answers 503 naming the failing check and why', async () => {
    server = await startHealthServer({ service: 'ha', checkTimeoutMs: 200 });
    server.addCheck('nats', () => true);
    server.addCheck('store', async () => {
      throw new Error('connection refused');
    });
    server.addCheck('consumer', () => false);
    server.addCheck('hung', () => new Promise(() => {}));
    const res = await fetch(server.url);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: 'failing',
      service: 'ha',
      checks: {
        nats: { ok: true },
        store: { ok: false, error: 'connection refused' },
        consumer: { ok: false, error: 'check failed' },
        hung: { ok: false, error: 'no answer within 200 ms' },
      },
    });
    server.removeCheck('store');
    server.removeCheck('consumer');
    server.removeCheck('hung');
    expect((await fetch(server.url)).status).toBe(200);
  });

  it('other paths are 404 and other methods 405', async () => {
    server = await startHealthServer({ service: 'api' });
    expect((await fetch(server.url.replace('/healthz', '/nope'))).status).toBe(404);
    expect((await fetch(server.url, { method: 'POST' })).status).toBe(405);
  });
});
