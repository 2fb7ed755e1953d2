import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { registerJsonBody } from './jsonBody.js';
import { registerRequestErrors, requestErrorOptions } from './requestErrors.js';

/**
 * An app with the API's request handling and two routes; the body's JSON is serialized again,
 * as the idempotency fingerprint does.
 */
async function app() {
  const a = Fastify({ logger: false, bodyLimit: 1 << 20, ...requestErrorOptions });
  registerRequestErrors(a);
  registerJsonBody(a);
  a.post('/v1/things', async (req) => ({ length: JSON.stringify(req.body).length }));
  a.get('/v1/things/:name', async (req) => req.params);
  await a.ready();
  return a;
}

const post = (payload: string, type = 'application/json') =>
  app().then((a) => a.inject({ method: 'POST', url: '/v1/things', headers: { 'content-type': type }, payload }));

describe('what the API refuses before a route runs', () => {
  it('a body nested deeper than 32 levels is a 400 naming the body, not a stack overflow (500)', async () => {
    const res = await post(`${'['.repeat(20_000)}${']'.repeat(20_000)}`);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: '(body)', rule: 'max_depth' } });
    // Brackets inside strings are text, not nesting.
    expect((await post(JSON.stringify({ a: '['.repeat(1000) }))).statusCode).toBe(200);
  });

  it('a body over 1 MiB is a 413, another media type a 415, broken JSON a 400: each names what', async () => {
    const big = await post(JSON.stringify({ a: 'x'.repeat(2 << 20) }));
    expect([big.statusCode, big.json().code, big.json().details.field]).toEqual([413, 'PAYLOAD_TOO_LARGE', '(body)']);
    const text = await post('<a/>', 'application/xml');
    expect([text.statusCode, text.json().details.field]).toEqual([415, 'content-type']);
    const broken = await post('{"a":');
    expect([broken.statusCode, broken.json().code, broken.json().details.field]).toEqual([
      400,
      'MALFORMED_JSON',
      '(body)',
    ]);
  });

  it('an unknown route and a path not validly percent-encoded are rejections with a code and a field', async () => {
    const a = await app();
    const unknown = await a.inject({ method: 'GET', url: '/v1/nothing' });
    expect([unknown.statusCode, unknown.json().code, unknown.json().details.field]).toEqual([
      404,
      'ROUTE_NOT_FOUND',
      '(path)',
    ]);
    const bad = await a.inject({ method: 'GET', url: '/v1/things/%E0%A4%A' });
    expect([bad.statusCode, bad.json().details.field]).toEqual([400, '(path)']);
  });
});
