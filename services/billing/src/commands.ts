import { type BillingMonth, type CommandMeta, type CommandReply, streamIds } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { handleCommand } from '@pgfleet/kit';
import { accountDecider, type AccountCommand } from './domain/account.js';
import { monthBounds } from './domain/months.js';
import { invoiceFor } from './domain/pricing.js';
import type { BillingLedger } from './projections/ledger.js';

export interface CommandDeps {
  store: EventStore;
  ledger: BillingLedger;
  /** The service's clock (injected: tests and demos move it). */
  now(): Date;
}

/** Decide on `account-{accountId}`; the accepted reply's `result.hash` is the month's invoice in force. */
async function decideOnAccount(
  deps: CommandDeps,
  accountId: string,
  command: AccountCommand,
  meta: CommandMeta,
): Promise<CommandReply> {
  const streamId = streamIds.account(accountId);
  const reply = await handleCommand({ store: deps.store, streamId, ...accountDecider, command, meta });
  if (!reply.ok) return reply;
  const inForce = (await deps.store.readStream(streamId)).events.findLast(
    (e) => (e.type === 'InvoiceIssued' || e.type === 'InvoiceCorrected') && e.data.month === command.invoice.month,
  );
  const hash =
    inForce?.type === 'InvoiceIssued' || inForce?.type === 'InvoiceCorrected' ? inForce.data.hash : undefined;
  return hash === undefined ? reply : { ...reply, result: { hash } };
}

/**
 * IssueInvoice: compute the month's invoice from the ledger and record it on `account-{accountId}`
 * with the expected version: once per account and month, whatever the number of replicas asking.
 */
export function issueInvoice(
  deps: CommandDeps,
  cmd: { accountId: string; month: BillingMonth },
  meta: CommandMeta = {},
): Promise<CommandReply> {
  const invoice = invoiceFor(deps.ledger.timelines(), cmd.accountId, cmd.month);
  const closed = monthBounds(cmd.month).end * 1000 <= deps.now().getTime();
  return decideOnAccount(deps, cmd.accountId, { type: 'IssueInvoice', invoice, closed }, meta);
}

/**
 * CorrectInvoice: compute an issued month again from the ledger; when it differs from the invoice
 * in force, record `InvoiceCorrected` (the issued invoice stays as it was). Asked by people, never
 * automatically: a plan's price changed in the catalog would otherwise re-price every past month.
 */
export function correctInvoice(
  deps: CommandDeps,
  cmd: { accountId: string; month: BillingMonth; reason: string },
  meta: CommandMeta = {},
): Promise<CommandReply> {
  const invoice = invoiceFor(deps.ledger.timelines(), cmd.accountId, cmd.month);
  return decideOnAccount(deps, cmd.accountId, { type: 'CorrectInvoice', invoice, reason: cmd.reason }, meta);
}
