import { BaseConfig } from '@pgfleet/kit';
import { z } from 'zod';

/** The billing service's configuration, from the environment: the kit's base settings and its own. */
export const BillingConfig = BaseConfig.extend({
  /**
   * How long after a month ends its invoices are issued: events of the month's last instants
   * (appended, then read by the ledger) land first.
   */
  PGFLEET_BILLING_CLOSE_GRACE_MS: z.coerce.number().int('must be a whole number').min(0).default(300_000),
  /**
   * Start the service's clock at this instant (ISO 8601) and let it run from there: to see a month
   * close now, in tests and demos. Unset: the real clock.
   */
  PGFLEET_BILLING_CLOCK_START: z.iso.datetime({ offset: true }).optional(),
});
export type BillingConfig = z.infer<typeof BillingConfig>;
