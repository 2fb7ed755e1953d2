/**
 * A relay as its own process, for the crash tests: `node --import tsx relayProcess.ts`.
 * Env: NATS_URL, STORE_URL, STORE_SCHEMA, RELAY_ID, BATCH_SIZE, and CRASH_AT_CHECKPOINT=N to
 * SIGKILL itself on its N-th checkpoint store: after a batch is published and acknowledged,
 * before its checkpoint is written (the worst moment to die). Logs are JSON lines on stdout.
 */
import { jetstream } from '@nats-io/jetstream';
import { createPostgresEventStore, type EventStore } from '@pgfleet/eventstore';
import { connectBus } from '../connect.js';
import type { BusLogger } from '../logger.js';
import { startRelay } from '../relay.js';

const env = (name: string) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};
const line = (level: string) => (obj: Record<string, unknown>, msg: string) =>
  process.stdout.write(`${JSON.stringify({ level, msg, ...obj })}\n`);
const logger: BusLogger = { info: line('info'), warn: line('warn'), error: line('error') };

const store = createPostgresEventStore({ connectionString: env('STORE_URL'), schema: env('STORE_SCHEMA') });
const crashAt = Number(process.env.CRASH_AT_CHECKPOINT ?? 0);
let checkpoints = 0;
const crashing: EventStore = Object.assign(Object.create(store) as EventStore, {
  storeCheckpoint: async (id: string, cp: string | null) => {
    if (++checkpoints === crashAt) {
      logger.info({ checkpoints }, 'crashing before checkpoint');
      process.kill(process.pid, 'SIGKILL');
      await new Promise(() => undefined);
    }
    return store.storeCheckpoint(id, cp);
  },
});

const nc = await connectBus({ servers: env('NATS_URL'), name: 'relay-process', reconnectWaitMs: 100 });
startRelay({
  store: crashing,
  js: jetstream(nc),
  relayId: env('RELAY_ID'),
  batchSize: Number(process.env.BATCH_SIZE ?? 500),
  logger,
});
logger.info({}, 'relay started');
