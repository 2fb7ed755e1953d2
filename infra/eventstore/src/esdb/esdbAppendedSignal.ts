/**
 * "New events may be readable" on EventStoreDB: this store's own appends wake the listeners at
 * once; appends by other processes are noticed by a slow poll of the head of $all, which runs
 * only while someone listens.
 */
export class AppendedSignal {
  private readonly listeners = new Set<() => void>();
  private polling = false;
  private closed = false;

  constructor(
    private readonly head: () => Promise<bigint>,
    private readonly pollMs: number,
  ) {}

  listen(listener: () => void): () => void {
    this.listeners.add(listener);
    if (!this.polling && !this.closed) {
      this.polling = true;
      void this.poll();
    }
    return () => void this.listeners.delete(listener);
  }

  wake(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch {
        // ignored: wake-ups are hints
      }
    }
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
  }

  private async poll(): Promise<void> {
    let last: bigint | undefined;
    while (!this.closed && this.listeners.size > 0) {
      await new Promise<void>((resolve) => setTimeout(resolve, this.pollMs).unref());
      try {
        const head = await this.head();
        if (last !== undefined && head !== last) this.wake();
        last = head;
      } catch {
        // the next poll tries again; readers have their own fallback
      }
    }
    this.polling = false;
  }
}
