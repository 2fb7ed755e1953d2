/**
 * Writes the contracts as documents: `generated/asyncapi.json` (AsyncAPI 3.0.0 of the NATS
 * channels) and `generated/schemas/{name}.json` (JSON Schema of every event and command).
 * Run: `npm run export -w @pgfleet/contracts`.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allJsonSchemas, asyncApiDocument } from '../src/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'generated');
const schemasDir = join(out, 'schemas');

const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };

await rm(schemasDir, { recursive: true, force: true });
await mkdir(schemasDir, { recursive: true });

const schemas = allJsonSchemas({ idBase: 'https://pgfleet.dev/schemas/' });
for (const [name, schema] of Object.entries(schemas)) {
  await writeFile(join(schemasDir, `${name}.json`), `${JSON.stringify(schema, null, 2)}\n`);
}
const asyncapiPath = join(out, 'asyncapi.json');
await writeFile(asyncapiPath, `${JSON.stringify(asyncApiDocument({ version: pkg.version }), null, 2)}\n`);

console.log(
  `wrote ${relative(process.cwd(), asyncapiPath)} and ${Object.keys(schemas).length} JSON Schemas in ` +
    relative(process.cwd(), schemasDir),
);
