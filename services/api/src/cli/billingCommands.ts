import type { Command } from 'commander';
import type { InvoiceLine } from '@pgfleet/contracts';
import { apiClient, CliError } from './client.js';
import { table } from './format.js';

type Out = (human: string, json: unknown) => void;

interface Invoice {
  accountId: string;
  month: string;
  currency: string;
  lines: InvoiceLine[];
  totalCents: number;
  hash: string;
}

/** Whole cents as euros, without a float: 354 -> `3.54`. */
const euros = (cents: number) => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;

/** Seconds as `7 d 2 h 0 min 30 s`. */
function span(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const parts = [d ? `${d} d` : '', d || h ? `${h} h` : '', `${m} min`, `${seconds % 60} s`];
  return parts.filter(Boolean).join(' ');
}

function render(title: string, invoice: Invoice): string {
  const rows = invoice.lines.map((l) => [
    l.name,
    l.kind === 'plan' ? l.plan : `disk over quota (${l.plan}, ${((l.overBytes ?? 0) / 2 ** 30).toFixed(2)} GiB)`,
    l.from.replace('.000Z', 'Z'),
    l.to.replace('.000Z', 'Z'),
    span(l.seconds),
    euros(l.amountCents),
  ]);
  const lines = rows.length > 0 ? table(['CLUSTER', 'ITEM', 'FROM', 'TO', 'TIME', 'EUR'], rows) : 'nothing billed';
  const total = `total: ${euros(invoice.totalCents)} ${invoice.currency} (sha256 ${invoice.hash.slice(0, 12)})`;
  return `${title}\n${lines}\n${total}`;
}

/** The month before the current one (UTC): the last closed month. */
function lastMonth(): string {
  const now = new Date();
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

export function registerBillingCommands(program: Command, out: (opts: { json?: boolean }) => Out): void {
  const billing = program.command('billing').description('usage and invoices, metered to the second from events');
  billing
    .command('usage')
    .description('the running month so far (each line rounded half up to the cent)')
    .option('--json')
    .action(async (o: { json?: boolean }) => {
      const api = apiClient();
      const account = api.account() ?? 'default';
      const r = await api.call<{ until: string; invoice: Invoice }>(
        'GET',
        `/v1/accounts/${encodeURIComponent(account)}/usage`,
      );
      out(o)(render(`usage of ${account} in ${r.invoice.month} up to ${r.until}`, r.invoice), r);
    });
  billing
    .command('invoice')
    .description("a closed month's invoice (default: last month)")
    .option('--month <YYYY-MM>', 'the month (UTC)')
    .option('--json')
    .action(async (o: { month?: string; json?: boolean }) => {
      const month = o.month ?? lastMonth();
      if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) {
        throw new CliError(`--month must be a month YYYY-MM, e.g. 2026-11, got "${month}"`, 'VALIDATION_FAILED', {
          field: '--month',
        });
      }
      const api = apiClient();
      const account = api.account() ?? 'default';
      const r = await api.call<{ status: string; invoice: Invoice }>(
        'GET',
        `/v1/accounts/${encodeURIComponent(account)}/invoices/${month}`,
      );
      const statuses: Record<string, string> = { issued: 'issued', corrected: 'corrected' };
      const status = statuses[r.status] ?? 'not issued yet (computed from the events)';
      out(o)(render(`invoice of ${account} for ${month}: ${status}`, r.invoice), r);
    });
}
