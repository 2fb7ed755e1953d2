import { z } from 'zod';
import { AccountId, Id } from '../names.js';

/** A calendar month in UTC, `YYYY-MM`: the billing period. */
export const BillingMonth = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'must be a month YYYY-MM, e.g. 2026-11');
export type BillingMonth = z.infer<typeof BillingMonth>;

const Instant = z.iso.datetime();

/**
 * One line of an invoice: a cluster on one plan for one period of the month (`plan`), or its data
 * over the plan's disk quota for one period (`disk-over-quota`). The rate is copied into the line,
 * so the line explains its amount on its own: `amountCents` is the exact amount rounded half-up to
 * the cent, once.
 */
export const InvoiceLine = z.object({
  clusterId: Id,
  name: z.string(),
  kind: z.enum(['plan', 'disk-over-quota']),
  /** The plan in force (a plain string: an old invoice stays readable after its plan left the catalog). */
  plan: z.string(),
  from: Instant,
  to: Instant,
  seconds: z.number().int().min(0),
  /** `plan` lines: the monthly price and the seconds of that month; exact amount = price × seconds / month. */
  monthlyPriceCents: z.number().int().min(0).optional(),
  secondsInMonth: z.number().int().positive().optional(),
  /** `disk-over-quota` lines: bytes over the quota and the rate; exact amount = GiB over × hours × rate. */
  overBytes: z.number().int().min(0).optional(),
  millicentsPerGbHour: z.number().int().min(0).optional(),
  amountCents: z.number().int().min(0),
});
export type InvoiceLine = z.infer<typeof InvoiceLine>;

const InvoiceData = z.object({
  accountId: AccountId,
  month: BillingMonth,
  currency: z.literal('EUR'),
  lines: z.array(InvoiceLine),
  totalCents: z.number().int().min(0),
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex sha256'),
});

/** Events of the `account-{accountId}` stream (billing owns them). */
export const accountEvents = {
  /**
   * A closed month's invoice, recorded once per account and month (an append with the expected
   * version) and never edited. `hash` is the sha256 of the invoice's canonical JSON (keys sorted,
   * the hash itself left out): recomputing the month from the events gives the same bytes.
   */
  InvoiceIssued: InvoiceData,
  /**
   * A month's invoice computed again from the events differs from the one in force (an event of the
   * month recorded after it was issued): the new lines and total, which replace the invoice whose
   * hash is `replaces`, and why. The issued invoice is never edited.
   */
  InvoiceCorrected: InvoiceData.extend({ replaces: InvoiceData.shape.hash, reason: z.string().min(1) }),
} as const;
