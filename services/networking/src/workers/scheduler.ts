/**
 * Runs reconciliations one at a time per cluster: a request that arrives while one is running
 * makes it run once more afterwards (nothing is lost, nothing runs twice at once).
 */
export class ReconcileScheduler {
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();

  constructor(private readonly run: (clusterId: string) => Promise<void>, private readonly onError: (clusterId: string, e: unknown) => void) {}

  /** Resolves when a reconciliation that saw this request has finished. */
  request(clusterId: string): Promise<void> {
    const current = this.running.get(clusterId);
    if (current) {
      this.again.add(clusterId);
      return current;
    }
    const p = (async () => {
      do {
        this.again.delete(clusterId);
        try {
          await this.run(clusterId);
        } catch (e) {
          this.onError(clusterId, e);
        }
      } while (this.again.has(clusterId));
    })().finally(() => this.running.delete(clusterId));
    this.running.set(clusterId, p);
    return p;
  }

  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running.values());
  }
}
