import { z } from 'zod';
import type { PostgresVersion } from './plans.js';
import type { Rejection } from './validation.js';

/**
 * The PostgreSQL extensions users may enable on their cluster (`pgfleet extension enable`): data,
 * not code. Only extensions shipped in Debian's postgresql-13 and postgresql-15 packages (a
 * `.control` file in /usr/share/postgresql/{13,15}/extension), so every cluster can have them
 * before and after a major upgrade. The platform creates them as superuser in the app database
 * (the app role is not one). `preload`: the extension's library must be in
 * shared_preload_libraries (a rolling restart loads it). `versions`: the default_version of each
 * major's control file, the version CREATE EXTENSION installs and a major upgrade updates to.
 */
export interface ExtensionSpec {
  summary: string;
  preload?: true;
  versions: Readonly<Record<PostgresVersion, string>>;
}

export const EXTENSIONS: Readonly<Record<string, ExtensionSpec>> = {
  pg_stat_statements: {
    summary: 'execution statistics of every statement (SELECT * FROM pg_stat_statements)',
    preload: true,
    versions: { 13: '1.8', 15: '1.10' },
  },
  pgcrypto: {
    summary: 'cryptographic functions: crypt(), gen_salt(), digest(), pgp_sym_encrypt()',
    versions: v('1.3'),
  },
  citext: { summary: 'a case-insensitive text type', versions: v('1.6') },
  hstore: { summary: 'key/value pairs in one column', versions: { 13: '1.7', 15: '1.8' } },
  pg_trgm: { summary: 'trigram similarity and indexes for LIKE and ILIKE', versions: { 13: '1.5', 15: '1.6' } },
  'uuid-ossp': { summary: 'UUID generators (uuid_generate_v1(), uuid_generate_v4())', versions: v('1.1') },
  btree_gin: { summary: 'GIN operator classes for scalar types', versions: v('1.3') },
  btree_gist: { summary: 'GiST operator classes for scalar types', versions: { 13: '1.5', 15: '1.7' } },
  unaccent: { summary: 'a text search dictionary removing accents', versions: v('1.1') },
  fuzzystrmatch: { summary: 'Soundex, Levenshtein and Metaphone string distances', versions: v('1.1') },
  tablefunc: { summary: 'crosstab() and other functions returning tables', versions: v('1.0') },
  pg_buffercache: { summary: 'what the shared buffer cache holds, live', versions: v('1.3') },
  ltree: { summary: 'hierarchical tree-like labels', versions: v('1.2') },
  intarray: { summary: 'functions, operators and indexes for integer arrays', versions: { 13: '1.3', 15: '1.5' } },
  cube: { summary: 'multidimensional cubes', versions: { 13: '1.4', 15: '1.5' } },
  isn: { summary: 'international product numbering types (ISBN, EAN13, UPC)', versions: v('1.2') },
  bloom: { summary: 'bloom filter index access method', versions: v('1.0') },
};

/** The same default_version on both majors. */
function v(version: string): Record<PostgresVersion, string> {
  return { 13: version, 15: version };
}

export const EXTENSION_NAMES = Object.keys(EXTENSIONS);

const allowList = () => `the extensions you may enable are ${EXTENSION_NAMES.join(', ')}`;

/** An extension as a command names it: one of the allow-list (a refusal names the list). */
export const ExtensionName = z.enum(EXTENSION_NAMES as [string, ...string[]], {
  error: (issue) => `${String(issue.input)} is not an extension you may enable; ${allowList()}`,
});

/** Why `name` cannot be enabled, in one sentence naming the allow-list; undefined when it can. Pure. */
export function refusedExtension(name: string): Rejection | undefined {
  if (Object.hasOwn(EXTENSIONS, name)) return undefined;
  const message = `${name} is not an extension you may enable; ${allowList()}`;
  return { code: 'EXTENSION_NOT_ALLOWED', message, details: { field: 'extension', rule: 'allow_list' } };
}

/**
 * shared_preload_libraries with `extension`'s library added (`add`) or removed, from the current
 * value (null: none set); null when none is left. Unchanged for an extension that needs no preload. Pure.
 */
export function preloadLibrariesWith(current: string | null, extension: string, add: boolean): string | null {
  const libraries = (current ?? '')
    .split(',')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (!EXTENSIONS[extension]?.preload) return current;
  const next = add ? [...new Set([...libraries, extension])] : libraries.filter((l) => l !== extension);
  return next.length > 0 ? next.join(',') : null;
}

/**
 * The enabled extensions of a cluster after a major upgrade to `version`: every one at that major's
 * default version (the upgrade runs ALTER EXTENSION ... UPDATE on each). Pure.
 */
export function extensionsAfterUpgrade(
  enabled: Readonly<Record<string, string>>,
  version: PostgresVersion,
): Record<string, string> {
  const next: Record<string, string> = {};
  for (const [name, current] of Object.entries(enabled)) next[name] = EXTENSIONS[name]?.versions[version] ?? current;
  return next;
}
