import { AccountId, BillingMonth } from '@pgfleet/contracts';
import { z } from 'zod';
import { invoiceHash } from './domain/invoiceHash.js';
import { monthBounds, monthOf, toIso, toSeconds } from './domain/months.js';
import { invoiceFor } from './domain/pricing.js';
import type { CommandDeps } from './commands.js';

/** `pgfleet.queries.billing.Usage {accountId}`: the running month so far. */
const UsageRequest = z.object({ accountId: AccountId.default('default') });
/** `pgfleet.queries.billing.Invoice {accountId, month, recompute?}`: a closed month's invoice. */
const InvoiceRequest = z.object({
  accountId: AccountId.default('default'),
  month: BillingMonth,
  /** Compute it from the events even when it was issued (an audit: the hash must be the same). */
  recompute: z.boolean().default(false),
});

const invalid = (error: z.ZodError) => ({
  ok: false,
  code: 'VALIDATION_FAILED',
  message: `invalid query: ${error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
});

/** The running month of the account up to now: the invoice it would get if the month ended now. */
export async function usage(deps: CommandDeps, request: unknown) {
  const q = UsageRequest.safeParse(request);
  if (!q.success) return invalid(q.error);
  const now = toSeconds(deps.now().toISOString());
  const invoice = invoiceFor(deps.ledger.timelines(), q.data.accountId, monthOf(now), now);
  return { ok: true, status: 'running', until: toIso(now), invoice: { ...invoice, hash: invoiceHash(invoice) } };
}

/**
 * A closed month's invoice: the one in force (`issued`, or `corrected`), or computed from the events
 * when it is not issued yet (`pending`: the month closed less than the grace period ago) or
 * `recompute` is asked (`recomputed`, with `inForceHash`). A month not over yet is refused.
 */
export async function invoice(deps: CommandDeps, request: unknown) {
  const q = InvoiceRequest.safeParse(request);
  if (!q.success) return invalid(q.error);
  const { accountId, month, recompute } = q.data;
  if (monthBounds(month).end * 1000 > deps.now().getTime()) {
    const message = `the month ${month} is not over yet: "pgfleet billing usage" shows it so far`;
    return { ok: false, code: 'MONTH_NOT_CLOSED', message, details: { field: 'month' } };
  }
  const issued = deps.ledger.issued(accountId, month);
  if (issued && !recompute) return { ok: true, status: 'replaces' in issued ? 'corrected' : 'issued', invoice: issued };
  const computed = invoiceFor(deps.ledger.timelines(), accountId, month);
  return {
    ok: true,
    status: issued ? 'recomputed' : 'pending',
    invoice: { ...computed, hash: invoiceHash(computed) },
    ...(issued ? { inForceHash: issued.hash } : {}),
  };
}
