import fc from 'fast-check';

/** Strings an attacker tries first: paths, NUL bytes, subject wildcards, injections, odd unicode. */
const NASTY_STRINGS = [
  '',
  ' ',
  '..',
  '../',
  '../../../../etc/passwd',
  '..\\..\\windows\\system32',
  '/etc/shadow',
  'a\u0000b',
  '\u0000',
  '%00',
  '%2e%2e%2f',
  'pgfleet.commands.>',
  'pgfleet.events.*',
  '*',
  '>',
  'a.b',
  'a b',
  '\t\n\r',
  "'; DROP TABLE events; --",
  '<script>alert(1)</script>',
  ['$', '{jndi:ldap://127.0.0.1/x}'].join(''),
  '{{7*7}}',
  '\u202Eevil\u202C',
  '\uD800',
  '\uFEFFzero-width\u200B',
  'ｐｒｏｄ',
  'İstanbul',
  '🐘'.repeat(40),
  '__proto__',
  'constructor',
  'null',
  'NaN',
  '-1',
  '1e309',
  'true',
  'A'.repeat(65),
];

/** A string that is long: 1 KB to 100 KB of UTF-8 (a few fit under the 1 MB body and NATS payload limits). */
const hugeString = fc
  .integer({ min: 1_000, max: 100_000 })
  .chain((n) =>
    fc.constantFrom('x', 'é', '🐘', '../').map((unit) => unit.repeat(Math.ceil(n / Buffer.byteLength(unit)))),
  );

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: hugeString },
);

/** Numbers at and past every edge JSON can carry. */
export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, -0, -1, 1.5, -(2 ** 31) - 1, 2 ** 31, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e308, -1e308, 5e-324),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Any JSON value, the hostile scalars included. */
export const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  hostileNumber,
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(hostileString, hostileNumber), { maxLength: 5 }),
  fc.dictionary(hostileString, fc.oneof(hostileString, hostileNumber, fc.constant(null)), { maxKeys: 4 }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** A value of another JSON type than every one in `types` (`integer` counts as `number`). */
export function wrongType(types: readonly string[]): fc.Arbitrary<unknown> {
  const have = new Set(types.map((t) => (t === 'integer' ? 'number' : t)));
  const others: fc.Arbitrary<unknown>[] = [];
  if (!have.has('string')) others.push(hostileString);
  if (!have.has('number')) others.push(hostileNumber);
  if (!have.has('boolean')) others.push(fc.boolean());
  if (!have.has('null')) others.push(fc.constant(null));
  if (!have.has('array')) others.push(fc.array(hostileJson, { maxLength: 3 }));
  if (!have.has('object')) others.push(fc.dictionary(fc.string(), hostileJson, { maxKeys: 3 }));
  return fc.oneof(...others);
}

/** Nesting deep enough to hurt a recursive parser or validator. */
const deepNesting = fc
  .integer({ min: 100, max: 20_000 })
  .chain((depth) =>
    fc.constantFrom(`${'['.repeat(depth)}${']'.repeat(depth)}`, `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
  );

/** Text that is not JSON, or JSON that is not an object. */
export const malformedJson: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    '{',
    '}',
    '{"a":}',
    '{"a":1,}',
    "{'a':1}",
    'undefined',
    'NaN',
    '{"a":1e999}',
    '[1,2',
    '\u0000',
    '\uFEFF{}',
  ),
  fc.constantFrom('null', '[]', '"text"', '42', 'true', '[{}]'),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.json({ maxDepth: 2 }).map((j) => j.slice(0, Math.max(0, j.length - 1))),
  deepNesting,
);

/** Keys an object must not trust: prototype pollution, and a few unknown ones. */
export const unknownKeys: fc.Arbitrary<string[]> = fc.array(
  fc.oneof(
    fc.constantFrom('__proto__', 'constructor', 'prototype', 'isAdmin', 'accountId', '$where'),
    hostileString.map((k) => k.slice(0, 100)),
  ),
  { minLength: 1, maxLength: 3 },
);

/**
 * `body` as JSON text with the unknown keys added to its top level (as own keys: `"__proto__"`
 * in JSON text is a plain property once parsed), or the body alone when it is not an object.
 */
export function withUnknownKeys(body: unknown, keys: string[], value: unknown): string {
  const text = JSON.stringify(body) ?? 'null';
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return text;
  const extra = keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(value) ?? 'null'}`).join(',');
  return text === '{}' ? `{${extra}}` : `{${extra},${text.slice(1)}`;
}
