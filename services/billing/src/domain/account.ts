import type { BillingMonth, EventOfType } from '@pgfleet/contracts';
import { accept, reject, type Decider } from '@pgfleet/kit';
import { invoiceHash } from './invoiceHash.js';
import type { Invoice } from './pricing.js';

/** Events of the `account-{accountId}` stream. */
export type AccountEvent = EventOfType<'InvoiceIssued'> | EventOfType<'InvoiceCorrected'>;

/** The account stream, folded: for every month issued, the hash of the invoice in force. */
export interface AccountState {
  inForce: ReadonlyMap<BillingMonth, string>;
}

/**
 * Issue the invoice of a closed month, computed from the events by the caller (the domain has no
 * clock): `closed` says whether the month has ended at the caller's now.
 */
export interface IssueInvoiceCommand {
  type: 'IssueInvoice';
  invoice: Invoice;
  closed: boolean;
}

/** Replace an issued month's invoice by this one, computed again from the events, for `reason`. */
interface CorrectInvoiceCommand {
  type: 'CorrectInvoice';
  invoice: Invoice;
  reason: string;
}

export type AccountCommand = IssueInvoiceCommand | CorrectInvoiceCommand;

const initialAccountState: AccountState = { inForce: new Map() };

function evolveAccount(state: AccountState, event: AccountEvent): AccountState {
  switch (event.type) {
    case 'InvoiceIssued':
    case 'InvoiceCorrected':
      return { inForce: new Map(state.inForce).set(event.data.month, event.data.hash) };
    default: {
      const never: never = event;
      throw new Error(`unhandled account event ${JSON.stringify(never)}`);
    }
  }
}

/**
 * One invoice per account and month, immutable: issuing a month already issued records nothing
 * (a second replica, or a restart, asks again); a month still running is refused. A correction is
 * a new event, recorded only when the invoice computed again differs from the one in force.
 */
function decideAccount(command: AccountCommand, state: AccountState) {
  const { invoice } = command;
  const inForce = state.inForce.get(invoice.month);
  switch (command.type) {
    case 'IssueInvoice': {
      if (!command.closed) {
        const message = `the month ${invoice.month} is not over yet: "pgfleet billing usage" shows it so far`;
        return reject('MONTH_NOT_CLOSED', message, { field: 'month' });
      }
      if (inForce !== undefined) return accept<AccountEvent>();
      return accept<AccountEvent>({ type: 'InvoiceIssued', data: { ...invoice, hash: invoiceHash(invoice) } });
    }
    case 'CorrectInvoice': {
      if (inForce === undefined) {
        const message = `no invoice was issued for ${invoice.accountId} in ${invoice.month}: nothing to correct`;
        return reject('INVOICE_NOT_ISSUED', message, { field: 'month' });
      }
      const hash = invoiceHash(invoice);
      if (hash === inForce) return accept<AccountEvent>();
      const data = { ...invoice, hash, replaces: inForce, reason: command.reason };
      return accept<AccountEvent>({ type: 'InvoiceCorrected', data });
    }
    default: {
      const never: never = command;
      throw new Error(`unhandled account command ${JSON.stringify(never)}`);
    }
  }
}

export const accountDecider: Decider<AccountState, AccountCommand, AccountEvent> = {
  initialState: initialAccountState,
  evolve: evolveAccount,
  decide: decideAccount,
};
