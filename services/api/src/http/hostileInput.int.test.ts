import { chmodSync, rmSync } from 'node:fs';
import type { NatsConnection } from '@nats-io/transport-node';
import fc from 'fast-check';
import pg from 'pg';
import type { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busAuthFromEnv, connectBus, decodeEvent } from '@pgfleet/bus';
import { COMMANDS, commandSubject, validateEvent } from '@pgfleet/contracts';
import {
  createPostgresEventStore,
  DEFAULT_POSTGRES_EVENTSTORE_SCHEMA,
  upcastOnRead,
  type EventStore,
} from '@pgfleet/eventstore';
import { freePort, ownedTempDir } from '@pgfleet/postgres';
import { apiTokenOf } from '../platform/home.js';
import { SERVICES } from '../platform/services.js';
import { type Platform, up } from '../platform/up.js';
import { hostileCommand } from './testing/hostileCommands.js';
import { closeAgent, hostileRequest, oversizedBody, routesOf, send, type Answer } from './testing/hostileRequests.js';
import { mutatedEvent, mutatedEventBytes } from './testing/mutatedEvents.js';
import { jsonSchemaOf, validOf } from './testing/schemaArbitraries.js';
import { killStrayServers } from './testing/strayServers.js';

/**
 * Generated bad input at every boundary of the platform, over real sockets: every route of the
 * API (from its OpenAPI document), every command subject of the contracts (answered by the real
 * services that `up` runs), and mutated events through the decoding and append paths. Every
 * answer is a 4xx or a rejection with a code naming the field, never a 5xx, a crash or a hang,
 * and the event store holds no more events afterwards. Replay a run with `FC_SEED=<seed>`.
 */

const SEED = process.env.FC_SEED ? Number(process.env.FC_SEED) : Math.floor(Math.random() * 2 ** 31);
/** Inputs per boundary: over 10,000 in all. */
const RUNS = { http: 2500, oversized: 30, nats: 3500, unknown: 500, decode: 3500, append: 500 };
/** Requests sent at once in each run: the boundary under concurrent load, and a shorter run. */
const BATCH = 8;
const batchOf = <T>(arb: fc.Arbitrary<T>) => fc.array(arb, { minLength: BATCH, maxLength: BATCH });
const counted = { http: 0, oversized: 0, nats: 0, unknown: 0, decode: 0, append: 0 };
/**
 * fast-check's options: the run's seed, and a report cut short (a counterexample can be megabytes)
 * that names the seed and path to replay it.
 */
const params = (numRuns: number) => ({
  seed: SEED,
  numRuns,
  reporter: (run: fc.RunDetails<unknown[]>) => {
    if (!run.failed) return;
    const example = fc.stringify(run.counterexample).slice(0, 1500);
    const error = String(run.errorInstance).slice(0, 1500);
    throw new Error(
      `failed (FC_SEED=${run.seed}, path ${run.counterexamplePath}): ${error}\ncounterexample: ${example}`,
    );
  },
});

/** What reaches the platform from outside is JSON: no prototype-less objects, no undefined. */
const asJson = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

let home: string;
let platform: Platform;
let nc: NatsConnection;
let store: EventStore;
let eventsBefore: string[];

/** Every event in the store, as `streamId type` lines (the count is what must not change). */
async function storedEvents(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT stream_id || ' ' || type AS e FROM ${DEFAULT_POSTGRES_EVENTSTORE_SCHEMA}.events ORDER BY position`,
    );
    return rows.map((r: { e: string }) => r.e);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  const replay = `FC_SEED=${SEED} npx vitest run src/http/hostileInput.int.test.ts (in services/api)`;
  console.log(`hostile input: seed ${SEED} (replay: ${replay}, or FC_SEED=${SEED} npm test)`);
  home = await ownedTempDir('pgfleet-hostile-');
  chmodSync(home, 0o755);
  const env = {
    ...process.env,
    PGFLEET_HOME: home,
    PGFLEET_NATS_PORT: String(await freePort()),
    PGFLEET_EVENTSTORE_PORT: String(await freePort()),
    PGFLEET_API_PORT: String(await freePort()),
    PGFLEET_HA_AGENT_PORT: String(await freePort()),
    PGFLEET_LOG_LEVEL: 'error',
  };
  platform = await up(env, () => undefined);
  // As the platform's own user (the one that may send every command): what the services accept is what is tested.
  const auth = busAuthFromEnv(await platform.natsEnv('platform'));
  nc = await connectBus({ servers: platform.natsUrl, name: 'hostile-input', ...auth });
  store = createPostgresEventStore({ connectionString: platform.eventstoreUrl });
  eventsBefore = await storedEvents(platform.eventstoreUrl);
}, 240_000);

afterAll(async () => {
  const total = Object.values(counted).reduce((a, b) => a + b, 0);
  console.log(`hostile input: seed ${SEED}, ${total} inputs ${JSON.stringify(counted)}`);
  closeAgent();
  await nc?.close().catch(() => undefined);
  await store?.close().catch(() => undefined);
  await platform?.stop();
  if (home) {
    const stray = killStrayServers(home);
    if (stray > 0) console.log(`hostile input: killed ${stray} cluster servers that an accepted input started`);
    rmSync(home, { recursive: true, force: true });
  }
}, 60_000);

/** Every command of the contracts whose service `up` runs (one whose commands just landed may not run yet). */
const servedCommands = () =>
  Object.entries(COMMANDS)
    .filter(([service]) => (SERVICES as readonly string[]).includes(service))
    .flatMap(([service, commands]) =>
      Object.entries(commands as Record<string, z.ZodType>).map(([command, schema]) => ({ service, command, schema })),
    );

/** A 4xx the API answers: JSON with a code and a message; a validation failure names its field. */
function expectClean4xx(answer: Answer, what: string): void {
  expect(answer.status, `${what} -> ${answer.status} ${answer.text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(answer.status, `${what} -> ${answer.status} ${answer.text.slice(0, 300)}`).toBeLessThan(500);
  const body = JSON.parse(answer.text) as { code?: unknown; message?: unknown; details?: { field?: unknown } };
  expect(typeof body.code, `${what}: ${answer.text.slice(0, 300)}`).toBe('string');
  expect(typeof body.message, `${what}: ${answer.text.slice(0, 300)}`).toBe('string');
  if (answer.status === 400) expect(typeof body.details?.field, `${what}: ${answer.text.slice(0, 300)}`).toBe('string');
}

/** Thousands of requests: minutes on a loaded 2-core machine, far less on a quiet one. */
const LONG = 300_000;

describe('generated hostile input at every boundary', () => {
  it(
    'every route of the OpenAPI document answers bad input with a 4xx naming the field, never a 5xx',
    async () => {
      const doc = await (await fetch(`${platform.apiUrl}/openapi.json`)).json();
      const routes = routesOf(doc as Parameters<typeof routesOf>[0]);
      expect(routes.length).toBeGreaterThan(10);
      const token = apiTokenOf(home);
      const perRoute = Math.ceil(RUNS.http / routes.length);
      for (const route of routes) {
        await fc.assert(
          fc.asyncProperty(batchOf(hostileRequest(route, token)), async (batch) => {
            counted.http += batch.length;
            const answers = await Promise.all(batch.map((req) => send(platform.apiUrl, req)));
            answers.forEach((answer, i) => {
              const req = batch[i]!;
              // A read may find nothing wrong (an empty list); a write with bad input is never accepted.
              if (req.method === 'GET' && answer.status < 300) return;
              expectClean4xx(answer, `${req.method} ${req.url.slice(0, 200)} ${String(req.body ?? '').slice(0, 200)}`);
            });
          }),
          params(Math.ceil(perRoute / BATCH)),
        );
      }
    },
    LONG,
  );

  it(
    'a body over the 1 MB limit is a 413 on every route that takes one',
    async () => {
      const doc = await (await fetch(`${platform.apiUrl}/openapi.json`)).json();
      const writes = routesOf(doc as Parameters<typeof routesOf>[0]).filter((r) => r.method !== 'GET');
      const token = apiTokenOf(home);
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...writes), oversizedBody, async (route, body) => {
          counted.oversized++;
          const url = route.path.replace(/\{\w+\}/g, 'hostile');
          const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
          const answer = await send(platform.apiUrl, { method: route.method, url, headers, body });
          expect(answer.status, `${route.method} ${url}: ${answer.text.slice(0, 200)}`).toBe(413);
          expectClean4xx(answer, `${route.method} ${url} (${body.length} bytes)`);
        }),
        params(RUNS.oversized),
      );
    },
    LONG,
  );

  it(
    'every command subject answers bad input with a rejection that has a code and names the field',
    async () => {
      const served = servedCommands();
      const perSubject = Math.ceil(RUNS.nats / served.length);
      for (const { service, command, schema } of served) {
        const subject = commandSubject(service, command);
        await fc.assert(
          // Over NATS's max_payload (1 MB) the client refuses to send it: nothing would reach a service.
          fc.asyncProperty(
            batchOf(hostileCommand(schema).filter((c) => Buffer.byteLength(c.body) < 1e6)),
            async (batch) => {
              counted.nats += batch.length;
              const replies = await Promise.all(
                batch.map(({ body }) => nc.request(subject, body, { timeout: 10_000 })),
              );
              replies.forEach((msg, i) => {
                const reply = msg.json<{ ok: boolean; code?: unknown; details?: { field?: unknown } }>();
                const { how, body } = batch[i]!;
                const what = `${subject} (${how}) ${body.slice(0, 300)} -> ${msg.string().slice(0, 300)}`;
                expect(reply.ok, what).toBe(false);
                expect(typeof reply.code, what).toBe('string');
                expect(typeof reply.details?.field, what).toBe('string');
              });
            },
          ),
          params(Math.ceil(perSubject / BATCH)),
        );
      }
    },
    LONG,
  );

  it(
    'well-formed commands naming a cluster that does not exist are rejected naming the field',
    async () => {
      // Only commands about an existing cluster: a well-formed CreateCluster (or an invoice) would be done.
      const subjects = servedCommands().filter(({ schema }) => 'clusterId' in (jsonSchemaOf(schema).properties ?? {}));
      for (const { service, command, schema } of subjects) {
        const subject = commandSubject(service, command);
        const data = validOf(jsonSchemaOf(schema)) as fc.Arbitrary<Record<string, unknown>>;
        await fc.assert(
          fc.asyncProperty(
            batchOf(data.map((d) => ({ ...d, clusterId: `absent-${String(d.clusterId)}`.slice(0, 64) }))),
            async (batch) => {
              counted.unknown += batch.length;
              const replies = await Promise.all(batch.map((d) => nc.request(subject, JSON.stringify({ data: d }))));
              for (const msg of replies) {
                const reply = msg.json<{ ok: boolean; code?: unknown; details?: { field?: unknown } }>();
                expect(reply.ok, `${subject}: ${msg.string().slice(0, 300)}`).toBe(false);
                expect(typeof reply.details?.field, `${subject}: ${msg.string().slice(0, 300)}`).toBe('string');
              }
            },
          ),
          params(Math.ceil(RUNS.unknown / subjects.length / BATCH)),
        );
      }
    },
    LONG,
  );

  it(
    'mutated events are decoded into a rejection with a code and a field, never a throw',
    () => {
      fc.assert(
        fc.property(mutatedEventBytes, (bytes) => {
          counted.decode++;
          const decoded = decodeEvent(bytes);
          if (decoded.ok) return;
          expect(typeof decoded.rejection.code).toBe('string');
          expect(typeof decoded.rejection.details?.field, decoded.rejection.message).toBe('string');
        }),
        params(RUNS.decode / 2),
      );
      // What the store does with a stored row of an old or unknown shape: read it upcast, or park it.
      fc.assert(
        fc.property(mutatedEvent, (event) => {
          counted.decode++;
          // A stored row: type is text, schema_version an integer, data JSON.
          const json = asJson(event);
          const type = typeof json.type === 'string' ? json.type : JSON.stringify(json.type);
          const schemaVersion = typeof json.schemaVersion === 'number' ? Math.trunc(json.schemaVersion) : 0;
          const row = { ...json, type, schemaVersion };
          const read = upcastOnRead(row as Parameters<typeof upcastOnRead>[0]);
          if (!read.ok) expect(typeof read.parked.code).toBe('string');
        }),
        params(RUNS.decode / 2),
      );
    },
    LONG,
  );

  it(
    'the event store refuses to append a mutated event, naming the field',
    async () => {
      await fc.assert(
        fc.asyncProperty(mutatedEvent.map(asJson), async (event) => {
          fc.pre(!validateEvent(event.type, event.data).ok);
          counted.append++;
          const append = store.appendToStream('cluster-hostile', [{ type: event.type, data: event.data } as never]);
          const error = (await append.then(
            () => undefined,
            (e: unknown) => e,
          )) as { code?: unknown; details?: { field?: unknown } } | undefined;
          expect(error?.code).toBe('INVALID_EVENT');
          expect(typeof error?.details?.field).toBe('string');
        }),
        params(RUNS.append),
      );
    },
    LONG,
  );

  it(
    'nothing of all that was stored: the event store holds as many events as before',
    async () => {
      expect(await storedEvents(platform.eventstoreUrl)).toEqual(eventsBefore);
      const total = Object.values(counted).reduce((a, b) => a + b, 0);
      expect(total).toBeGreaterThanOrEqual(10_000);
    },
    LONG,
  );
});
