import { connect } from 'node:net';
import pg from 'pg';

// How the load talks to servers that may be frozen, gone, or stuck waiting for a standby.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A connection through the endpoint, retried every 500 ms until `timeoutMs` (the cluster may still be settling). */
export async function connectWithin(config: pg.ClientConfig, timeoutMs: number): Promise<pg.Client> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client(config);
    client.on('error', () => undefined);
    try {
      await client.connect();
      return client;
    } catch (error) {
      drop(client);
      if (performance.now() > deadline) throw error;
      await sleep(500);
    }
  }
}

/**
 * After a write was given up and its connection dropped, asks the server to cancel what that
 * connection's backend is still doing (PostgreSQL's CancelRequest: a short connection of its own,
 * handled by the postmaster, no backend slot used). A backend waiting in COMMIT for a synchronous
 * standby that is gone waits forever and does not notice its client left, so without this every
 * retry would hold one more slot until `max_connections` is reached and nobody, monitoring
 * included, can connect. The cancelled COMMIT stays committed locally and answers success with a
 * WARNING, but to a socket this client already closed: never counted as acknowledged. Best effort:
 * through a gateway the request may reach another node, which ignores a key it does not know.
 */
export function cancelBackend(endpoint: URL, client: pg.Client): void {
  // node-pg keeps the BackendKeyData it received, untyped in @types/pg.
  const { processID, secretKey } = client as unknown as { processID: number | null; secretKey: number | null };
  if (processID === null || secretKey === null) return;
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(80877102, 4); // the CancelRequest code
  packet.writeInt32BE(processID, 8);
  packet.writeInt32BE(secretKey, 12);
  const socket = connect({ host: endpoint.hostname, port: Number(endpoint.port || 5432) });
  socket.on('error', () => undefined);
  socket.setTimeout(1000, () => socket.destroy());
  socket.on('connect', () => socket.end(packet));
}

/** Drops a connection without waiting for the server: it may be frozen or gone. */
export function drop(client: pg.Client): void {
  client.connection.stream.destroy();
}

/** Ends a connection politely, but gives up after a second. */
export async function close(client: pg.Client): Promise<void> {
  await Promise.race([client.end().catch(() => undefined), sleep(1000)]);
  drop(client);
}
