import fc from 'fast-check';
import { EVENTS, EnvelopeMeta } from '@pgfleet/contracts';
import {
  hostileJson,
  hostileNumber,
  hostileString,
  malformedJson,
  unknownKeys,
  withUnknownKeys,
} from './hostileValues.js';
import { invalidOf, jsonSchemaOf, validOf } from './schemaArbitraries.js';

const TYPES = Object.keys(EVENTS) as (keyof typeof EVENTS)[];
const metaSchema = jsonSchemaOf(EnvelopeMeta);
const metaFields = Object.keys(metaSchema.properties ?? {});
const dataSchemas = new Map(TYPES.map((t) => [t, jsonSchemaOf(EVENTS[t].schema)]));

/** A valid envelope of one event type at its current schema version (the baseline to mutate). */
const validEvent = fc.constantFrom(...TYPES).chain((type) =>
  fc.tuple(validOf(metaSchema), validOf(dataSchemas.get(type)!)).map(([meta, data]) => ({
    ...(meta as Record<string, unknown>),
    schemaVersion: EVENTS[type].schemaVersion,
    type,
    data,
  })),
);

type Envelope = Record<string, unknown> & { type: string; schemaVersion: unknown; data: unknown };
type EventType = keyof typeof EVENTS;
/** A mutation of an envelope whose type was `base` before any mutation. */
type Mutation = (e: Envelope, base: EventType) => fc.Arbitrary<Envelope>;

const mutations: fc.Arbitrary<Mutation>[] = [
  // the data broken against its type's schema
  fc.constant((e, base) => {
    const bad = invalidOf(dataSchemas.get(base)!);
    return bad ? bad.map((data) => ({ ...e, data })) : fc.constant({ ...e, data: 'not an object' });
  }),
  // an envelope field broken, or missing
  fc.constant((e) =>
    fc.constantFrom(...metaFields).chain((field) => {
      const bad = invalidOf(metaSchema.properties![field]!)!;
      return fc.option(bad, { nil: undefined }).map((v) => {
        const copy: Envelope = { ...e };
        if (v === undefined) delete copy[field];
        else copy[field] = v;
        return copy;
      });
    }),
  ),
  // a type nobody knows, or not a string
  fc.constant((e) =>
    fc
      .oneof(hostileString, hostileJson)
      .filter((t) => typeof t !== 'string' || !(t in EVENTS))
      .map((type) => ({ ...e, type }) as Envelope),
  ),
  // a schema version from the past (the upcasters get the current shape), the future, or nowhere
  fc.constant((e, base) =>
    fc
      .oneof(fc.integer({ min: 1, max: EVENTS[base].schemaVersion + 2 }), hostileNumber)
      .map((schemaVersion) => ({ ...e, schemaVersion })),
  ),
  // data of another type
  fc.constant((e) =>
    fc.constantFrom(...TYPES).chain((other) => validOf(dataSchemas.get(other)!).map((data) => ({ ...e, data }))),
  ),
];

/** An event envelope with one to three mutations: what a hostile or buggy publisher puts on the bus. */
export const mutatedEvent: fc.Arbitrary<Envelope> = validEvent.chain((e) =>
  fc
    .array(fc.oneof(...mutations), { minLength: 1, maxLength: 3 })
    .chain((ms) =>
      ms.reduce<fc.Arbitrary<Envelope>>((acc, m) => acc.chain((x) => m(x, e.type)), fc.constant(e as Envelope)),
    ),
);

/** The message bytes of a mutated event: its JSON (with unknown keys, at times), or text that is not JSON. */
export const mutatedEventBytes: fc.Arbitrary<Uint8Array> = fc
  .oneof(
    { weight: 6, arbitrary: mutatedEvent.map((e) => JSON.stringify(e)) },
    {
      weight: 1,
      arbitrary: fc.tuple(mutatedEvent, unknownKeys, hostileJson).map(([e, k, v]) => withUnknownKeys(e, k, v)),
    },
    { weight: 1, arbitrary: malformedJson },
  )
  .map((text) => new TextEncoder().encode(text));
