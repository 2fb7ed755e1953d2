import type { ServiceDeclaration } from '@pgfleet/kit';
import { correctInvoice, issueInvoice } from './commands.js';
import { BillingConfig } from './config.js';
import { BillingLedger } from './projections/ledger.js';
import { invoice, usage } from './queries.js';
import { MonthCloser } from './workers/monthCloser.js';

/** The service's clock: the real one, or one started at `start` that runs from there. */
export function billingClock(start?: string): () => Date {
  if (start === undefined) return () => new Date();
  const offset = Date.parse(start) - Date.now();
  return () => new Date(Date.now() + offset);
}

/**
 * The billing service: meters every cluster from its events, answers usage and invoice queries
 * from that ledger, and issues each closed month's invoices on the account streams.
 */
export function billingService(
  options: { now?: () => Date } = {},
): ServiceDeclaration<'billing', BillingConfig, ReturnType<typeof setupDeps>> {
  return {
    name: 'billing',
    config: BillingConfig,
    setup: ({ config, store, log }) =>
      setupDeps(store, options.now ?? billingClock(config.PGFLEET_BILLING_CLOCK_START), config, log),
    commands: (d) => ({
      IssueInvoice: (data, meta) => issueInvoice(d, data, meta),
      CorrectInvoice: (data, meta) => correctInvoice(d, data, meta),
    }),
    queries: (d) => ({ Usage: (request) => usage(d, request), Invoice: (request) => invoice(d, request) }),
    projections: (d) => [d.ledger.projection()],
    // The ledger has caught up with the store here: months missed while down are issued first.
    started: (d) => d.closer.start(),
    stop: (d) => d.closer.stop(),
  };
}

type SetupArgs = Parameters<ServiceDeclaration<'billing', BillingConfig, unknown>['setup']>[0];

function setupDeps(store: SetupArgs['store'], now: () => Date, config: BillingConfig, log: SetupArgs['log']) {
  const ledger = new BillingLedger();
  const deps = { store, ledger, now };
  const closer = new MonthCloser({
    ledger,
    now,
    log,
    graceMs: config.PGFLEET_BILLING_CLOSE_GRACE_MS,
    issue: (accountId, month) => issueInvoice(deps, { accountId, month }, { actor: { kind: 'system', id: 'billing' } }),
  });
  return { ...deps, closer };
}
