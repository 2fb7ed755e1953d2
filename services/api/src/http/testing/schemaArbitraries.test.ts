import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { COMMANDS, EVENTS, EnvelopeMeta } from '@pgfleet/contracts';
import { invalidOf, jsonSchemaOf, validOf } from './schemaArbitraries.js';

const schemas: [string, z.ZodType][] = [
  ...Object.entries(COMMANDS).flatMap(([service, commands]) =>
    Object.entries(commands).map(([name, schema]): [string, z.ZodType] => [`${service}.${name}`, schema]),
  ),
  ...Object.entries(EVENTS).map(([type, e]): [string, z.ZodType] => [type, e.schema]),
  ['EnvelopeMeta', EnvelopeMeta],
];

describe('arbitraries derived from the contracts zod schemas', () => {
  it.each(schemas)('%s: what validOf makes is accepted, what invalidOf makes is refused', (_name, schema) => {
    const json = jsonSchemaOf(schema);
    fc.assert(
      fc.property(validOf(json), (v) => {
        expect(schema.safeParse(v).error?.issues).toBeUndefined();
      }),
      { numRuns: 30 },
    );
    const invalid = invalidOf(json);
    if (!invalid) return;
    fc.assert(
      fc.property(invalid, (v) => {
        expect(schema.safeParse(v).success, JSON.stringify(v)?.slice(0, 300)).toBe(false);
      }),
      { numRuns: 60 },
    );
  });
});
