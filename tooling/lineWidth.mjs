#!/usr/bin/env node
// Fails when a TypeScript source line is longer than 120 characters. Biome's formatter wraps code at
// 120 but leaves long strings and comments alone; this catches those.
//
//   node tooling/lineWidth.mjs [dir ...]      (default: contracts infra services test)
//
// Prints one `file:line: N characters` per offending line and exits 1 if there is any.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const MAX = 120;
// Build output, dependencies and hidden folders (.turbo, .pgfleet, scratch copies) are not sources.
const SKIP = new Set(['node_modules', 'dist', 'coverage', 'generated']);
const roots = process.argv.length > 2 ? process.argv.slice(2) : ['contracts', 'infra', 'services', 'test'];

/** @param {string} dir @returns {Generator<string>} */
function* tsFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name) || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* tsFiles(path);
    else if (entry.isFile() && entry.name.endsWith('.ts')) yield path;
  }
}

const offending = [];
for (const root of roots) {
  for (const file of tsFiles(root)) {
    for (const [i, line] of readFileSync(file, 'utf8').split('\n').entries()) {
      // Code points, not UTF-16 units: '→' or '…' counts as one character, as in an editor.
      const width = [...line.replace(/\r$/, '')].length;
      if (width > MAX) offending.push(`${relative(process.cwd(), file)}:${i + 1}: ${width} characters`);
    }
  }
}

if (offending.length > 0) {
  console.error(offending.join('\n'));
  console.error(`\n${offending.length} line(s) longer than ${MAX} characters: wrap the string or comment by hand.`);
  process.exit(1);
}
console.log(`no line longer than ${MAX} characters in ${roots.join(', ')}`);
