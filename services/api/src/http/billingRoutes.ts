import type { NatsConnection } from '@nats-io/transport-node';
import { AccountId, BillingMonth, querySubject, type Rejection } from '@pgfleet/contracts';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { callerOf } from './authentication.js';
import { canSee } from './callerScope.js';
import { reject } from './rejections.js';

const AccountParams = z.object({ accountId: AccountId });
const InvoiceParams = AccountParams.extend({ month: BillingMonth });
const InvoiceQuery = z.object({ recompute: z.enum(['true', 'false']).optional() });

/** The billing service's answer: `{ok: true, ...}` or a rejection. */
type Answer = ({ ok: true } & Record<string, unknown>) | ({ ok: false } & Rejection);

/**
 * `GET /v1/accounts/{accountId}/usage` (the running month so far) and
 * `GET /v1/accounts/{accountId}/invoices/{month}` (a closed month's invoice, `?recompute=true` to
 * compute it again from the events), answered by the billing service's queries over NATS.
 */
export function registerBillingRoutes(app: FastifyInstance, ctx: { nc: NatsConnection }): void {
  const ask = async (reply: FastifyReply, name: string, body: object) => {
    let answer: Answer;
    try {
      const m = await ctx.nc.request(querySubject('billing', name), JSON.stringify(body), { timeout: 5000 });
      answer = m.json() as Answer;
    } catch {
      return reject(reply, { code: 'SERVICE_UNAVAILABLE', message: 'the billing service is not answering' });
    }
    if (!answer.ok) return reject(reply, { code: answer.code, message: answer.message, details: answer.details });
    const { ok: _ok, ...rest } = answer;
    return rest;
  };
  /** Another account's billing is not found, whether that account exists or not. */
  const notFound = (reply: FastifyReply, accountId: string) =>
    reject(reply, {
      code: 'ACCOUNT_NOT_FOUND',
      message: `no account named ${accountId}`,
      details: { field: 'accountId' },
    });
  const invalid = (reply: FastifyReply, error: z.ZodError) =>
    reject(reply, {
      code: 'VALIDATION_FAILED',
      message: error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      details: { field: String(error.issues[0]?.path[0] ?? '') },
    });

  app.get('/v1/accounts/:accountId/usage', async (req, reply) => {
    const p = AccountParams.safeParse(req.params);
    if (!p.success) return invalid(reply, p.error);
    if (!canSee(callerOf(req), p.data.accountId)) return notFound(reply, p.data.accountId);
    return ask(reply, 'Usage', { accountId: p.data.accountId });
  });

  app.get('/v1/accounts/:accountId/invoices/:month', async (req, reply) => {
    const p = InvoiceParams.safeParse(req.params);
    if (!p.success) return invalid(reply, p.error);
    if (!canSee(callerOf(req), p.data.accountId)) return notFound(reply, p.data.accountId);
    const q = InvoiceQuery.safeParse(req.query ?? {});
    if (!q.success) return invalid(reply, q.error);
    return ask(reply, 'Invoice', { ...p.data, recompute: q.data.recompute === 'true' });
  });
}
