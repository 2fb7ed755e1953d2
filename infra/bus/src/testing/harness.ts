import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { uuidv7, type EventEnvelope } from '@pgfleet/contracts';
import { freePort } from '@pgfleet/postgres';
import { connectBus } from '../connect.js';
import { ensureEventsStream } from '../eventsStream.js';
import { startNatsServer, type NatsServerHandle } from '../natsServer.js';

export interface NatsHarness {
  server: NatsServerHandle;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Another connection (a second replica, a relay). */
  connect(name: string): Promise<NatsConnection>;
  close(): Promise<void>;
}

/** A real nats-server with JetStream on a free port, the events stream, and a connection. */
export async function startNatsHarness(): Promise<NatsHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'pgfleet-bus-'));
  const conns: NatsConnection[] = [];
  let server: NatsServerHandle | undefined;
  try {
    server = await startNatsServer({ port: await freePort(), storeDir: join(dir, 'js') });
    const url = server.url;
    const connect = async (name: string) => {
      const c = await connectBus({ servers: url, name, reconnectWaitMs: 100 });
      conns.push(c);
      return c;
    };
    const nc = await connect('test');
    const jsm = await jetstreamManager(nc);
    await ensureEventsStream(jsm);
    const srv = server;
    return {
      server: srv,
      nc,
      js: jetstream(nc),
      jsm,
      connect,
      async close() {
        await Promise.allSettled(conns.map((c) => c.close()));
        await srv.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.allSettled(conns.map((c) => c.close()));
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

let position = 0;

/** A valid stored envelope (as the store would return it) of a NodeStopped event. */
export function storedEvent(streamId: string, streamVersion: number, nodeId = `n${streamVersion}`): EventEnvelope {
  return {
    id: uuidv7(),
    type: 'NodeStopped',
    data: { nodeId },
    streamId,
    streamVersion,
    globalPosition: String(++position),
    occurredAt: new Date().toISOString(),
    schemaVersion: 1,
    correlationId: 'test',
    causationId: null,
    actor: { kind: 'system', id: 'test' },
  } as EventEnvelope;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Poll until `condition` holds; fails naming `what` after `timeoutMs` (a deadline, not a measure). */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
