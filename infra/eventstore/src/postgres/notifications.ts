import pg from 'pg';

/**
 * One LISTEN connection per store, shared by its subscriptions. It connects when the first
 * listener registers, reconnects after a lost connection (waking everyone, since notifications
 * sent meanwhile are lost) and closes when the last one leaves.
 */
export class Notifications {
  private readonly listeners = new Set<() => void>();
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly channel: string,
    private readonly onError: (error: unknown) => void = () => undefined,
    private readonly reconnectDelayMs = 500,
  ) {}

  listen(wake: () => void): () => void {
    this.listeners.add(wake);
    if (!this.client && !this.connecting && !this.closed) this.connect();
    return () => {
      this.listeners.delete(wake);
      if (this.listeners.size === 0) void this.disconnect();
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    await this.disconnect();
  }

  private connect(): void {
    const client = new pg.Client(this.config);
    const lost = (error?: unknown) => {
      if (this.client !== client && this.connecting === undefined) return;
      if (error) this.onError(error);
      this.client = undefined;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', () => this.wakeAll());
    this.connecting = (async () => {
      try {
        await client.connect();
        await client.query(`LISTEN "${this.channel}"`);
        if (this.closed || this.listeners.size === 0) {
          client.removeAllListeners();
          client.on('error', () => undefined);
          await client.end().catch(() => undefined);
          return;
        }
        this.client = client;
        this.wakeAll();
      } catch (error) {
        this.onError(error);
        client.removeAllListeners();
        client.on('error', () => undefined);
        void client.end().catch(() => undefined);
        this.scheduleReconnect();
      } finally {
        this.connecting = undefined;
      }
    })();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.listeners.size === 0 || this.retry) return;
    this.wakeAll();
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (!this.client && !this.connecting && !this.closed && this.listeners.size > 0) this.connect();
    }, this.reconnectDelayMs);
  }

  private async disconnect(): Promise<void> {
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    await this.connecting;
    const client = this.client;
    this.client = undefined;
    if (client) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
  }

  private wakeAll(): void {
    for (const wake of this.listeners) wake();
  }
}
