import type pg from 'pg';

/**
 * Wakes live subscribers (LISTEN/NOTIFY) after appends commit. The NOTIFY is sent in its own,
 * write-free statement rather than inside the append: PostgreSQL holds a database-wide lock from
 * a notifying transaction's pre-commit until its commit is flushed, which would line every
 * append's WAL flush up behind the others (alone, writing nothing else, its commit waits for no
 * flush). Wake-ups are coalesced: while one is in flight, the appends that follow are covered by
 * a single next one. Subscribers also poll, so a lost wake-up delays, never loses, an event.
 */
export class WakeUp {
  private inFlight: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly channel: string,
  ) {}

  ping(): void {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = this.pool
      .query("SELECT pg_notify($1, '')", [this.channel])
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        this.inFlight = undefined;
        if (this.again) {
          this.again = false;
          this.ping();
        }
      });
  }

  /** Resolves once every wake-up asked for so far is sent (before closing the pool). */
  async flush(): Promise<void> {
    while (this.inFlight) await this.inFlight;
  }
}
