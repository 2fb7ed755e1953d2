import type pg from 'pg';
import { appendBatch, type AppendOutcome, type PendingAppend } from './appendBatch.js';
import type { StoreSchema } from './schema.js';

interface Queued {
  append: PendingAppend;
  resolve: (outcome: AppendOutcome) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit in the client: the appends of this process share transactions. An append goes at
 * once while fewer than `maxInFlight` batches are in flight (no wait when the store is quiet);
 * otherwise it waits for the next free slot, together with every append queued meanwhile (up to
 * `maxEvents` events), so a busy store pays one round trip, one commit and one disk flush for
 * many appends. A batch that fails on the server (a stored event id, above all) stored nothing:
 * its appends are then tried one by one, so each gets its own answer.
 */
export class AppendQueue {
  private readonly queue: Queued[] = [];
  private inFlight = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly s: StoreSchema,
    private readonly maxInFlight: number,
    private readonly maxEvents = 1000,
  ) {}

  append(append: PendingAppend): Promise<AppendOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ append, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch: Queued[] = [this.queue.shift()!];
      let events = batch[0]!.append.events.length;
      while (this.queue.length > 0 && events + this.queue[0]!.append.events.length <= this.maxEvents) {
        const queued = this.queue.shift()!;
        events += queued.append.events.length;
        batch.push(queued);
      }
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        this.next();
      });
    }
  }

  private async send(batch: readonly Queued[]): Promise<void> {
    try {
      const outcomes = await appendBatch(this.pool, this.s, batch.map((q) => q.append));
      batch.forEach((q, i) => q.resolve(outcomes[i]!));
    } catch (error) {
      // An error the server answered rolled the whole batch back: each append on its own, then.
      if (batch.length > 1 && isServerError(error)) {
        for (const q of batch) await this.send([q]);
        return;
      }
      for (const q of batch) q.reject(error);
    }
  }
}

/** The server reported this error (and rolled the transaction back); not a lost connection. */
function isServerError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('08') && code !== '57P01';
}
