/**
 * Runs work one key at a time (a worker's reconciliation of one cluster): a request that arrives
 * while the key's run is in progress makes exactly one more run follow it (coalesced), so every
 * request is seen, nothing is lost, and two runs for one key never overlap. `request` rejects
 * when the last run it waited for failed, so a caller (an event consumer) does not acknowledge
 * work that did not happen; `onError` still hears of every failure.
 */
export class KeyedQueue {
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();

  constructor(
    private readonly work: (key: string) => Promise<void>,
    private readonly onError: (key: string, error: unknown) => void,
  ) {}

  /** Resolves when a run that saw this request has finished. */
  request(key: string): Promise<void> {
    const current = this.running.get(key);
    if (current) {
      this.again.add(key);
      return current;
    }
    const run = (async () => {
      let failure: { error: unknown } | undefined;
      do {
        this.again.delete(key);
        failure = undefined;
        try {
          await this.work(key);
        } catch (error) {
          failure = { error };
          this.onError(key, error);
        }
      } while (this.again.has(key));
      this.running.delete(key);
      if (failure) throw failure.error;
    })();
    this.running.set(key, run);
    return run;
  }

  /** Resolves when nothing runs. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }
}
