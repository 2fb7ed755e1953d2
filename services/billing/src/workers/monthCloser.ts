import type { BillingMonth, CommandReply } from '@pgfleet/contracts';
import type { Logger } from '@pgfleet/kit';
import { monthBounds, monthOf, monthsBetween, nextMonth, previousMonth } from '../domain/months.js';
import { invoiceFor } from '../domain/pricing.js';
import type { BillingLedger } from '../projections/ledger.js';

export interface MonthCloserDeps {
  ledger: BillingLedger;
  issue(accountId: string, month: BillingMonth): Promise<CommandReply>;
  now(): Date;
  /** How long after a month's end it is closed. */
  graceMs: number;
  log: Pick<Logger, 'info' | 'error'>;
}

/** The longest single wait (setTimeout's limit is about 24.8 days): the timer re-arms. */
const MAX_WAIT_MS = 86_400_000;

/**
 * Closes months: for every account, every month from its first billed second up to the last one
 * ended (plus the grace) that has no invoice yet gets one. Run at start (so months missed while
 * the service was down are issued) and by a timer at each month's end; a month with nothing to
 * bill gets no invoice. Issuing is idempotent, so two replicas closing at once issue one invoice.
 */
export class MonthCloser {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: MonthCloserDeps) {}

  /** The last month closed at `now`: the one before the month of `now - grace`. */
  lastClosedMonth(): BillingMonth {
    return previousMonth(monthOf(Math.floor((this.deps.now().getTime() - this.deps.graceMs) / 1000)));
  }

  /** Issue every due invoice now; returns what was issued (account, month, hash). */
  async closeDue(): Promise<{ accountId: string; month: BillingMonth; hash: unknown }[]> {
    const last = this.lastClosedMonth();
    const done: { accountId: string; month: BillingMonth; hash: unknown }[] = [];
    for (const [accountId, first] of this.deps.ledger.firstMonths()) {
      for (const month of monthsBetween(first, last)) {
        if (this.deps.ledger.issued(accountId, month)) continue;
        if (invoiceFor(this.deps.ledger.timelines(), accountId, month).lines.length === 0) continue;
        const reply = await this.deps.issue(accountId, month);
        if (!reply.ok) throw new Error(`invoice ${accountId} ${month} not issued: ${reply.code}: ${reply.message}`);
        done.push({ accountId, month, hash: reply.result?.hash });
        this.deps.log.info({ accountId, month, hash: reply.result?.hash }, 'invoice issued');
      }
    }
    return done;
  }

  /** Close what is due, then wake at each month's end (plus the grace) for as long as the service runs. */
  async start(): Promise<void> {
    await this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const run = this.closeDue().catch((error: unknown) =>
      this.deps.log.error({ err: String(error) }, 'closing months failed; trying again at the next wake-up'),
    );
    this.running = run;
    await run;
    if (this.stopped) return;
    const due = monthBounds(nextMonth(this.lastClosedMonth())).end * 1000 + this.deps.graceMs;
    const wait = Math.min(MAX_WAIT_MS, Math.max(1000, due - this.deps.now().getTime()));
    this.timer = setTimeout(() => void this.tick(), wait);
  }
}
