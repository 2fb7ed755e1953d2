import { type BillingMonth, EVENTS, type EventData } from '@pgfleet/contracts';
import type { ProjectionDeclaration } from '@pgfleet/kit';
import { METERED_TYPES, meteredEventOf, type RecordedEvent } from '../domain/metering.js';
import { monthOf } from '../domain/months.js';
import { type ClusterTimeline, evolveTimelines } from '../domain/usage.js';

/** The invoice in force for a month: the one issued, or its latest correction (with `replaces` and `reason`). */
type InForce = EventData<'InvoiceIssued'> | EventData<'InvoiceCorrected'>;

/**
 * Billing's view of the history, in memory: every cluster's timeline (what it cost when) and every
 * invoice issued. Rebuilt from the first event at every start (it keeps no checkpoint), so wiping
 * it is restarting the service.
 */
export class BillingLedger {
  private readonly clusters = new Map<string, ClusterTimeline>();
  private readonly invoices = new Map<string, InForce>();

  apply(event: RecordedEvent): void {
    if (event.type === 'InvoiceIssued' || event.type === 'InvoiceCorrected') {
      const data = EVENTS[event.type].schema.parse(event.data);
      this.invoices.set(`${data.accountId}/${data.month}`, data);
      return;
    }
    const metered = meteredEventOf(event);
    if (metered) evolveTimelines(this.clusters, metered);
  }

  timelines(): Iterable<ClusterTimeline> {
    return this.clusters.values();
  }

  /** The invoice in force for the account's month (issued, or corrected), if any. */
  issued(accountId: string, month: BillingMonth): InForce | undefined {
    return this.invoices.get(`${accountId}/${month}`);
  }

  /** Every account with a billed cluster, and the month its first billed second falls in. */
  firstMonths(): Map<string, BillingMonth> {
    const first = new Map<string, BillingMonth>();
    for (const t of this.clusters.values()) {
      if (t.start === undefined) continue;
      const month = monthOf(t.start);
      const known = first.get(t.accountId);
      if (known === undefined || month < known) first.set(t.accountId, month);
    }
    return first;
  }

  /** Its declaration for the service kit: fed with the types billing reads. */
  projection(): ProjectionDeclaration {
    return {
      name: 'ledger',
      types: [...METERED_TYPES, 'InvoiceIssued', 'InvoiceCorrected'],
      apply: (e) => this.apply(e),
    };
  }
}
