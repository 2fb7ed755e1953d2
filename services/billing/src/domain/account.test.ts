import { deciderSpec } from '@pgfleet/kit/testing';
import { describe, expect, it } from 'vitest';
import { accountDecider, type AccountEvent, type IssueInvoiceCommand } from './account.js';
import { canonicalJson, invoiceBytes, invoiceHash } from './invoiceHash.js';
import type { Invoice } from './pricing.js';

const spec = deciderSpec(accountDecider);
const invoice = (month: string, totalCents = 354): Invoice => ({
  accountId: 'default',
  month,
  currency: 'EUR',
  lines: [
    {
      ...{ clusterId: 'c1', name: 'shop-db', kind: 'plan', plan: 'starter-512' },
      ...{ from: '2026-11-03T10:00:00.000Z', to: '2026-11-10T12:00:30.000Z', seconds: 612_030 },
      ...{ monthlyPriceCents: 1500, secondsInMonth: 2_592_000, amountCents: totalCents },
    },
  ],
  totalCents,
});
const issue = (month: string, closed = true): IssueInvoiceCommand => ({
  type: 'IssueInvoice',
  invoice: invoice(month),
  closed,
});
const issued = (month: string): AccountEvent => ({
  type: 'InvoiceIssued',
  data: { ...invoice(month), hash: invoiceHash(invoice(month)) },
});

describe('the account stream', () => {
  it('given no invoice, when a closed month is issued, then InvoiceIssued carries the lines, total and hash', () => {
    spec
      .given([])
      .when(issue('2026-11'))
      .then([issued('2026-11')], (s) => expect([...s.inForce.keys()]).toEqual(['2026-11']));
  });

  it('given the month issued, when it is issued again, then nothing is recorded (one invoice per month)', () => {
    spec
      .given([issued('2026-11')])
      .when(issue('2026-11'))
      .then([]);
  });

  it('given an earlier month issued, when the next one is issued, then it is recorded too', () => {
    spec
      .given([issued('2026-10')])
      .when(issue('2026-11'))
      .then([issued('2026-11')]);
  });

  it('given the month issued, when a recomputation differs, then InvoiceCorrected replaces it (no edit)', () => {
    const late = invoice('2026-11', 355);
    const corrected: AccountEvent = {
      type: 'InvoiceCorrected',
      data: { ...late, hash: invoiceHash(late), replaces: invoiceHash(invoice('2026-11')), reason: 'late event' },
    };
    spec
      .given([issued('2026-11')])
      .when({ type: 'CorrectInvoice', invoice: late, reason: 'late event' })
      .then([corrected], (s) => expect(s.inForce.get('2026-11')).toBe(invoiceHash(late)));
  });

  it('given the month issued, when the recomputation is the same, then nothing is corrected', () => {
    spec
      .given([issued('2026-11')])
      .when({ type: 'CorrectInvoice', invoice: invoice('2026-11'), reason: 'audit' })
      .then([]);
  });

  it('refuses to correct a month never issued', () => {
    spec
      .given([])
      .when({ type: 'CorrectInvoice', invoice: invoice('2026-11'), reason: 'audit' })
      .thenRejects('INVOICE_NOT_ISSUED');
  });

  it('refuses a month that is not over', () => {
    spec
      .given([])
      .when(issue('2026-12', false))
      .thenRejects('MONTH_NOT_CLOSED', /2026-12 is not over yet/);
  });
});

describe('the invoice hash', () => {
  it('is computed over canonical JSON: key order does not change the bytes', () => {
    const a = invoice('2026-11');
    const shuffled = JSON.parse(
      JSON.stringify({
        totalCents: a.totalCents,
        lines: a.lines,
        month: a.month,
        currency: 'EUR',
        accountId: 'default',
      }),
    );
    expect(invoiceBytes(shuffled)).toBe(invoiceBytes(a));
    expect(invoiceHash(shuffled)).toBe(invoiceHash(a));
    expect(invoiceHash(invoice('2026-11', 355))).not.toBe(invoiceHash(a));
    expect(canonicalJson({ b: 1, a: [{ d: undefined, c: 'x' }] })).toBe('{"a":[{"c":"x"}],"b":1}');
  });
});
