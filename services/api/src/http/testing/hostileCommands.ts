import fc from 'fast-check';
import type { z } from 'zod';
import { CommandMeta } from '@pgfleet/contracts';
import { hostileJson, malformedJson, unknownKeys, withUnknownKeys } from './hostileValues.js';
import { invalidOf, jsonSchemaOf, validOf } from './schemaArbitraries.js';

/** A command request body and whether a service may accept it (never, for what this makes). */
export interface HostileCommand {
  body: string;
  /** How it is broken, for the failure message. */
  how: 'data' | 'meta' | 'envelope' | 'json';
}

const metaSchema = jsonSchemaOf(CommandMeta);
const validMeta = fc.option(validOf(metaSchema), { nil: undefined });
const invalidMeta = invalidOf(metaSchema)!.filter((m) => !CommandMeta.safeParse(m).success);

/**
 * Request bodies for one command (`{ data, meta? }` on `pgfleet.commands.{service}.{Command}`)
 * that its schema refuses: `data` broken, `meta` broken, not `{ data }` at all, or not JSON;
 * sometimes with unknown keys. Checked against the same zod schema before they are sent, so
 * nothing a service would accept (and store) is ever sent.
 */
export function hostileCommand(schema: z.ZodType): fc.Arbitrary<HostileCommand> {
  const json = jsonSchemaOf(schema);
  const badData = invalidOf(json)!.filter((d) => !schema.safeParse(d).success);
  const decorate = (v: Record<string, unknown>) =>
    fc
      .tuple(unknownKeys, hostileJson, fc.boolean())
      .map(([keys, x, yes]) => (yes ? withUnknownKeys(v, keys, x) : JSON.stringify(v)));
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc
        .tuple(badData, validMeta)
        .chain(([data, meta]) => decorate(meta === undefined ? { data } : { data, meta }))
        .map((body) => ({ body, how: 'data' as const })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(validOf(json), invalidMeta)
        .chain(([data, meta]) => decorate({ data, meta }))
        .map((body) => ({ body, how: 'meta' as const })),
    },
    {
      weight: 1,
      arbitrary: fc
        .oneof(hostileJson, fc.constant({}), fc.record({ dat: validOf(json) }))
        .filter((v) => typeof v !== 'object' || v === null || Array.isArray(v) || !('data' in v))
        .map((v) => ({ body: JSON.stringify(v) ?? 'null', how: 'envelope' as const })),
    },
    { weight: 1, arbitrary: malformedJson.map((body) => ({ body, how: 'json' as const })) },
  );
}
