/**
 * Runs work per cluster one at a time: a request while a run is in progress schedules exactly
 * one more run after it (coalesced), so every request is seen and dumps of a cluster never overlap.
 */
export class ClusterQueue {
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();

  constructor(private readonly work: (clusterId: string) => Promise<void>, private readonly onError: (clusterId: string, error: unknown) => void) {}

  request(clusterId: string): Promise<void> {
    const current = this.running.get(clusterId);
    if (current) {
      this.again.add(clusterId);
      return current;
    }
    const run = (async () => {
      do {
        this.again.delete(clusterId);
        try {
          await this.work(clusterId);
        } catch (error) {
          this.onError(clusterId, error);
        }
      } while (this.again.has(clusterId));
      this.running.delete(clusterId);
    })();
    this.running.set(clusterId, run);
    return run;
  }

  /** Resolves when nothing runs. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()]);
  }
}
