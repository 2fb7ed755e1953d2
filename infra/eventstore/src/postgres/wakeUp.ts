import type pg from 'pg';

/**
 * Wakes live subscribers (LISTEN/NOTIFY) after appends commit. The NOTIFY is sent in its own,
 * write-free statement rather than inside the append: PostgreSQL holds a database-wide lock from
 * a notifying transaction's pre-commit until its commit is flushed, which would line every
 * append's WAL flush up behind the others (alone, writing nothing else, its commit waits for no
 * flush). Wake-ups are coalesced: the first append after a quiet spell notifies at once; the
 * appends that follow while one is in flight, or within `minIntervalMs` of it, are covered by a
 * single next one (a NOTIFY is a transaction of its own: one per append would cost a busy store
 * about as much as the appends). Subscribers also poll, so a lost wake-up delays, never loses,
 * an event.
 */
export class WakeUp {
  private inFlight: Promise<void> | undefined;
  private pending: NodeJS.Timeout | undefined;
  private again = false;
  private lastSent = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly pool: pg.Pool,
    private readonly channel: string,
    private readonly minIntervalMs = 5,
  ) {}

  ping(): void {
    if (this.inFlight || this.pending) {
      this.again = true;
      return;
    }
    const wait = this.lastSent + this.minIntervalMs - performance.now();
    if (wait > 0) {
      this.pending = setTimeout(() => {
        this.pending = undefined;
        this.send();
      }, wait);
      return;
    }
    this.send();
  }

  /** Sends the wake-up still waiting, and resolves once every one asked for so far is sent. */
  async flush(): Promise<void> {
    for (;;) {
      if (this.pending) {
        clearTimeout(this.pending);
        this.pending = undefined;
        this.send();
      }
      if (!this.inFlight) return;
      await this.inFlight;
    }
  }

  private send(): void {
    this.again = false;
    this.lastSent = performance.now();
    this.inFlight = this.pool
      .query("SELECT pg_notify($1, '')", [this.channel])
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        this.inFlight = undefined;
        if (this.again) this.ping();
      });
  }
}
