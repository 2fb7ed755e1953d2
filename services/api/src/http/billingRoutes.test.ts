import type { NatsConnection } from '@nats-io/transport-node';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { registerAuthentication } from './authentication.js';
import { registerBillingRoutes } from './billingRoutes.js';

const ADMIN = 'admin-token';
const ACME = `pgf_acme.${'a'.repeat(43)}`;
/** The admin token and acme's token, as the API would resolve them (the token directory stood in for). */
const admin = { authorization: `Bearer ${ADMIN}` };
const acme = { authorization: `Bearer ${ACME}` };

/** A stand-in for NATS: records the billing queries asked and answers them (or times out with `null`). */
function billingStandIn(answer: (subject: string, body: Record<string, unknown>) => unknown) {
  const asked: [string, Record<string, unknown>][] = [];
  const nc = {
    request: async (subject: string, data: string) => {
      const body = JSON.parse(data) as Record<string, unknown>;
      asked.push([subject, body]);
      const reply = answer(subject, body);
      if (reply === null) throw new Error('TIMEOUT');
      return { json: () => reply };
    },
  };
  const app = Fastify();
  const directory = { accountOf: async (token: string) => (token === ACME ? 'acme' : undefined) };
  registerAuthentication(app, { adminToken: ADMIN, directory });
  registerBillingRoutes(app, { nc: nc as unknown as NatsConnection });
  return { app, asked };
}

const invoice = {
  accountId: 'default',
  month: '2026-11',
  currency: 'EUR',
  lines: [],
  totalCents: 0,
  hash: 'a'.repeat(64),
};

describe('the billing routes', () => {
  it('ask the billing service for the running month and a closed month', async () => {
    const { app, asked } = billingStandIn(() => ({ ok: true, status: 'issued', invoice }));
    const usage = await app.inject({ method: 'GET', url: '/v1/accounts/default/usage', headers: admin });
    expect(usage.statusCode).toBe(200);
    const month = await app.inject({
      method: 'GET',
      url: '/v1/accounts/acme/invoices/2026-11?recompute=true',
      headers: admin,
    });
    expect(month.json()).toEqual({ status: 'issued', invoice });
    expect(asked).toEqual([
      ['pgfleet.queries.billing.Usage', { accountId: 'default' }],
      ['pgfleet.queries.billing.Invoice', { accountId: 'acme', month: '2026-11', recompute: true }],
    ]);
  });

  it('answer a month not over with 409, a bad month with 400 and a silent service with 503', async () => {
    const refusal = { ok: false, code: 'MONTH_NOT_CLOSED', message: 'the month 2026-12 is not over yet' };
    const { app, asked } = billingStandIn((_, body) => (body.month === '2026-12' ? refusal : null));
    const open = await app.inject({ method: 'GET', url: '/v1/accounts/default/invoices/2026-12', headers: admin });
    expect([open.statusCode, open.json().code]).toEqual([409, 'MONTH_NOT_CLOSED']);
    const bad = await app.inject({ method: 'GET', url: '/v1/accounts/default/invoices/2026-13', headers: admin });
    expect([bad.statusCode, bad.json().code]).toEqual([400, 'VALIDATION_FAILED']);
    const silent = await app.inject({ method: 'GET', url: '/v1/accounts/default/invoices/2026-10', headers: admin });
    expect([silent.statusCode, silent.json().code]).toEqual([503, 'SERVICE_UNAVAILABLE']);
    expect(asked).toHaveLength(2);
  });

  it("answer an account's token for its own account, and 404 for another's, as for no account at all", async () => {
    const { app, asked } = billingStandIn(() => ({ ok: true, status: 'issued', invoice }));
    const own = await app.inject({ method: 'GET', url: '/v1/accounts/acme/usage', headers: acme });
    expect(own.statusCode).toBe(200);
    for (const url of ['/v1/accounts/default/usage', '/v1/accounts/globex/invoices/2026-11']) {
      const other = await app.inject({ method: 'GET', url, headers: acme });
      expect([other.statusCode, other.json().code, other.json().details]).toEqual([
        404,
        'ACCOUNT_NOT_FOUND',
        { field: 'accountId' },
      ]);
    }
    const none = await app.inject({ method: 'GET', url: '/v1/accounts/acme/usage' });
    expect([none.statusCode, none.json().code]).toEqual([401, 'UNAUTHORIZED']);
    expect(asked).toEqual([['pgfleet.queries.billing.Usage', { accountId: 'acme' }]]);
  });
});
