import fc from 'fast-check';
import { z } from 'zod';
import { hostileJson, hostileNumber, hostileString, unknownKeys, wrongType } from './hostileValues.js';

/** The part of JSON Schema (2020-12) that zod's `toJSONSchema` writes for pgfleet's schemas. */
export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
}

/** The input side of a zod schema as JSON Schema: what a client must send (defaults optional). */
export const jsonSchemaOf = (schema: z.ZodType): JsonSchema =>
  z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;

const BOUND = 1_000_000;
const isoDates = fc
  .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2999-12-31T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString());

/** Each schema's arbitraries, built once (building one parses its regular expressions). */
const validCache = new WeakMap<JsonSchema, fc.Arbitrary<unknown>>();
const invalidCache = new WeakMap<JsonSchema, fc.Arbitrary<unknown> | undefined>();

function cached<A>(cache: WeakMap<JsonSchema, A>, s: JsonSchema, build: (s: JsonSchema) => A): A {
  if (!cache.has(s)) cache.set(s, build(s));
  return cache.get(s) as A;
}

/** Values the schema accepts: the baseline that mutations start from. */
export const validOf = (s: JsonSchema): fc.Arbitrary<unknown> => cached(validCache, s, buildValid);

/**
 * Values the schema refuses, by construction: a wrong type, a broken string rule (pattern,
 * enum, length, format), a number past a bound, a missing required field, an unknown field
 * where none is allowed, or one of these deeper in an object or array. A schema that accepts
 * anything (`{}`) has no invalid value: undefined.
 */
export const invalidOf = (s: JsonSchema): fc.Arbitrary<unknown> | undefined => cached(invalidCache, s, buildInvalid);

function buildValid(s: JsonSchema): fc.Arbitrary<unknown> {
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  if (s.anyOf) return fc.oneof(...s.anyOf.map(validOf));
  switch (s.type) {
    case 'string':
      if (s.format === 'date-time') return isoDates;
      if (s.format === 'uuid') return fc.uuid({ version: 7 });
      if (s.pattern) return fc.stringMatching(new RegExp(s.pattern));
      return fc.string({ minLength: s.minLength ?? 0, maxLength: Math.max(s.minLength ?? 0, 20) });
    case 'integer':
    case 'number': {
      const min = Math.max(s.minimum ?? -BOUND, s.exclusiveMinimum === undefined ? -BOUND : s.exclusiveMinimum + 1);
      const max = Math.min(s.maximum ?? BOUND, BOUND);
      return fc.integer({ min, max });
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(s.items ? validOf(s.items) : hostileJson, {
        minLength: s.minItems ?? 0,
        maxLength: (s.minItems ?? 0) + 2,
      });
    case 'object':
      return validObject(s);
    default:
      return hostileJson;
  }
}

function validObject(s: JsonSchema): fc.Arbitrary<unknown> {
  const props = s.properties ?? {};
  const record = fc.record(Object.fromEntries(Object.entries(props).map(([k, v]) => [k, validOf(v)])), {
    requiredKeys: (s.required ?? []).filter((k) => k in props),
  });
  if (typeof s.additionalProperties !== 'object') return record;
  const keys = s.propertyNames ? (validOf(s.propertyNames) as fc.Arbitrary<string>) : fc.string();
  const extra = fc.dictionary(keys, validOf(s.additionalProperties), { maxKeys: 3 });
  return fc.tuple(record, extra).map(([r, e]) => ({ ...e, ...r }));
}

const typesOf = (s: JsonSchema): string[] => {
  if (s.anyOf) return s.anyOf.flatMap(typesOf);
  if (s.type) return [s.type];
  if (s.enum) return s.enum.map((v) => (v === null ? 'null' : typeof v));
  if (s.const !== undefined) return [s.const === null ? 'null' : typeof s.const];
  return [];
};

function buildInvalid(s: JsonSchema): fc.Arbitrary<unknown> | undefined {
  const types = typesOf(s);
  if (types.length === 0) return undefined;
  const ways: fc.Arbitrary<unknown>[] = [wrongType(types)];
  const literals = s.enum ?? (s.anyOf?.every((b) => b.const !== undefined) ? s.anyOf.map((b) => b.const) : undefined);
  if (literals) {
    const known = new Set(literals);
    ways.push(fc.oneof(hostileString, hostileNumber).filter((v) => !known.has(v)));
  } else if (s.const !== undefined) {
    ways.push(fc.oneof(hostileJson, fc.constant(!s.const)).filter((v) => v !== s.const));
  } else if (s.type === 'string') ways.push(...brokenStrings(s));
  else if (s.type === 'integer' || s.type === 'number') ways.push(...brokenNumbers(s));
  else if (s.type === 'object') ways.push(...brokenObjects(s));
  else if (s.type === 'array') ways.push(...brokenArrays(s));
  return fc.oneof(...ways);
}

function brokenStrings(s: JsonSchema): fc.Arbitrary<unknown>[] {
  const ways: fc.Arbitrary<unknown>[] = [];
  const candidates = fc.oneof(hostileString, fc.string({ maxLength: 70 }));
  if (s.pattern) {
    const re = new RegExp(s.pattern);
    ways.push(candidates.filter((v) => !re.test(v)));
  }
  if (s.format === 'date-time') {
    const dates = isoDates;
    ways.push(
      fc.oneof(
        dates.map((d) => d.slice(0, 19)),
        dates.map((d) => d.replace('T', ' ')),
        hostileString.filter((v) => Number.isNaN(Date.parse(v))),
      ),
    );
  }
  if (s.format === 'uuid')
    ways.push(
      fc.uuid({ version: 4 }),
      hostileString.filter((v) => !/^[0-9a-f-]{36}$/i.test(v)),
    );
  if (s.minLength) ways.push(fc.string({ maxLength: s.minLength - 1 }));
  if (s.maxLength !== undefined) ways.push(fc.string({ minLength: s.maxLength + 1, maxLength: s.maxLength + 50 }));
  return ways;
}

function brokenNumbers(s: JsonSchema): fc.Arbitrary<unknown>[] {
  const ways: fc.Arbitrary<unknown>[] = [fc.constantFrom(1e308, -1e308, 2 ** 53 + 2)];
  if (s.type === 'integer')
    ways.push(fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Number.isInteger(n)));
  const low = s.minimum ?? s.exclusiveMinimum;
  if (low !== undefined) ways.push(fc.integer({ min: -(2 ** 31), max: s.minimum !== undefined ? low - 1 : low }));
  if (s.maximum !== undefined && s.maximum < 2 ** 31)
    ways.push(fc.integer({ min: s.maximum + 1, max: s.maximum + 2 ** 31 }));
  return ways;
}

function brokenObjects(s: JsonSchema): fc.Arbitrary<unknown>[] {
  const ways: fc.Arbitrary<unknown>[] = [];
  const base = validOf(s) as fc.Arbitrary<Record<string, unknown>>;
  const required = (s.required ?? []).filter((k) => s.properties && k in s.properties);
  if (required.length > 0) {
    ways.push(fc.tuple(base, fc.constantFrom(...required)).map(([o, k]) => omit(o, k)));
  }
  for (const [key, prop] of Object.entries(s.properties ?? {})) {
    const bad = invalidOf(prop);
    if (bad) ways.push(fc.tuple(base, bad).map(([o, v]) => ({ ...o, [key]: v })));
  }
  if (s.additionalProperties === false) {
    const known = new Set(Object.keys(s.properties ?? {}));
    const keys = unknownKeys
      .map((ks) => ks.filter((k) => !known.has(k) && k !== '__proto__'))
      .filter((ks) => ks.length > 0);
    ways.push(
      fc.tuple(base, keys, hostileJson).map(([o, ks, v]) => ({ ...o, ...Object.fromEntries(ks.map((k) => [k, v])) })),
    );
  }
  if (typeof s.additionalProperties === 'object') {
    const bad = invalidOf(s.additionalProperties);
    if (bad) ways.push(fc.tuple(base, bad).map(([o, v]) => ({ ...o, 'extra-key': v })));
  }
  return ways;
}

function brokenArrays(s: JsonSchema): fc.Arbitrary<unknown>[] {
  const ways: fc.Arbitrary<unknown>[] = [];
  if (s.minItems) ways.push(fc.array(s.items ? validOf(s.items) : hostileJson, { maxLength: s.minItems - 1 }));
  const bad = s.items ? invalidOf(s.items) : undefined;
  if (bad && s.items) {
    const good = validOf(s.items);
    ways.push(fc.tuple(fc.array(good, { minLength: s.minItems ?? 0, maxLength: 2 }), bad).map(([xs, v]) => [...xs, v]));
  }
  return ways;
}

function omit(o: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _dropped, ...rest } = o;
  return rest;
}
