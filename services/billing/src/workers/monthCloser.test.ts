import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../domain/metering.js';
import { invoiceFor } from '../domain/pricing.js';
import { invoiceHash } from '../domain/invoiceHash.js';
import { BillingLedger } from '../projections/ledger.js';
import { MonthCloser } from './monthCloser.js';

const event = (occurredAt: string, type: string, data: object, streamId = 'cluster-c1'): RecordedEvent => ({
  type,
  streamId,
  occurredAt,
  data,
});
const requested = (clusterId: string, accountId: string) => ({
  clusterId,
  accountId,
  name: `db-${clusterId}`,
  plan: 'starter-512',
});
const ready = { leader: 'node1', host: '127.0.0.1', port: 5432, database: 'app', user: 'app' };
const silent = { info: () => undefined, error: () => undefined };

/** A ledger with c1 (default, ready 10 Sep, deleted 15 Oct) and c2 (acme, ready 20 Nov). */
function ledger(): BillingLedger {
  const l = new BillingLedger();
  for (const e of [
    event('2026-09-10T00:00:00Z', 'ClusterRequested', requested('c1', 'default')),
    event('2026-09-10T00:00:00Z', 'ClusterReady', ready),
    event('2026-10-15T00:00:00Z', 'ClusterDeleted', {}),
    event('2026-11-20T00:00:00Z', 'ClusterRequested', requested('c2', 'acme'), 'cluster-c2'),
    event('2026-11-20T00:00:00Z', 'ClusterReady', ready, 'cluster-c2'),
  ]) {
    l.apply(e);
  }
  return l;
}

function closerAt(now: string, l: BillingLedger, issued: string[]) {
  return new MonthCloser({
    ledger: l,
    now: () => new Date(now),
    graceMs: 300_000,
    log: silent,
    issue: async (accountId, month) => {
      issued.push(`${accountId} ${month}`);
      const invoice = invoiceFor(l.timelines(), accountId, month);
      const hash = invoiceHash(invoice);
      l.apply(event(now, 'InvoiceIssued', { ...invoice, hash }, `account-${accountId}`));
      return { ok: true, streamId: `account-${accountId}`, version: 1, result: { hash } };
    },
  });
}

describe('closing months', () => {
  it('at start, issues every month missed while down, once; empty months get no invoice', async () => {
    const l = ledger();
    const issued: string[] = [];
    // Started on 1 Dec 00:10: November closed 10 min ago (grace 5 min).
    await closerAt('2026-12-01T00:10:00Z', l, issued).closeDue();
    expect(issued).toEqual(['default 2026-09', 'default 2026-10', 'acme 2026-11']);
    // A second run (another replica, a restart) issues nothing more.
    await closerAt('2026-12-01T00:20:00Z', l, issued).closeDue();
    expect(issued).toHaveLength(3);
  });

  it('waits for the grace period after the month ends', async () => {
    const issued: string[] = [];
    await closerAt('2026-12-01T00:04:00Z', ledger(), issued).closeDue();
    expect(issued).toEqual(['default 2026-09', 'default 2026-10']);
  });
});
