import type { ParkedEvent } from './port.js';

/** How a store reports a parked event (the `onParked` option of the adapters). */
export type OnParked = (event: ParkedEvent) => void;

/** The default report: one JSON line on stderr. */
export const logParkedEvent: OnParked = (event) => {
  const line = {
    level: 'warn',
    time: new Date().toISOString(),
    msg: 'event parked: it cannot be read as its current schema',
    ...event,
  };
  process.stderr.write(`${JSON.stringify(line)}\n`);
};

/**
 * Keeps a record of the events that reads leave out, and reports each of them once: the first
 * time a read meets it, the adapter records it (`record` returns the ids it newly recorded; the
 * PostgreSQL store keeps a table shared by every process) and only those are reported. A report
 * that throws, or a record that fails, never fails the read; a failed record is tried again.
 */
export class Parking {
  private readonly seen = new Set<string>();

  constructor(
    private readonly onParked: OnParked = logParkedEvent,
    private readonly record: (events: readonly ParkedEvent[]) => Promise<ReadonlySet<string>> = async (events) =>
      new Set(events.map((e) => e.id)),
  ) {}

  async park(events: readonly ParkedEvent[]): Promise<void> {
    const fresh = events.filter((e) => !this.seen.has(e.id));
    if (fresh.length === 0) return;
    let recorded: ReadonlySet<string>;
    try {
      recorded = await this.record(fresh);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      for (const event of fresh) this.report({ ...event, reason: `${event.reason} (not recorded: ${why})` });
      return;
    }
    for (const event of fresh) {
      this.seen.add(event.id);
      if (recorded.has(event.id)) this.report(event);
    }
  }

  private report(event: ParkedEvent): void {
    try {
      this.onParked(event);
    } catch {
      // A failing report must not stop a reader.
    }
  }
}
