#!/usr/bin/env node
// Bundles the CLI (src/cli.ts) into dist/cli.js, replacing what tsc emitted there, so a `pgfleet`
// call reads a few files instead of hundreds (commander, the contracts and zod, the NATS client).
// Each command's modules stay a chunk of their own (dist/cli-chunks/), loaded only when that
// command runs. `pgfleet up` is left out: it imports dist/platform/up.js as tsc emitted it (the
// platform finds the services' entry points relative to its own files).
//
//   node scripts/bundleCli.mjs      (run by `npm run build` after tsc)
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(pkg, 'dist');

/** `./platform/up.js` stays an import of the unbundled file next to dist/cli.js, `@pgfleet/runtime` of the package. */
const platformOutside = {
  name: 'platform-outside',
  setup(b) {
    b.onResolve({ filter: /^\.\/platform\/up\.js$/ }, (args) => ({ path: args.path, external: true }));
    // `images build` loads the runtime from node_modules: dockerode pulls in native addons (ssh2).
    b.onResolve({ filter: /^@pgfleet\/runtime$/ }, (args) => ({ path: args.path, external: true }));
  },
};

/** The package.json nearest to a file: its `type` says whether a .js file is CommonJS. */
function packageType(file) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const json = join(dir, 'package.json');
    if (existsSync(json)) return JSON.parse(readFileSync(json, 'utf8')).type ?? 'commonjs';
  }
  return 'commonjs';
}

/**
 * `await import('pkg')` of a CommonJS package (`@nats-io/jetstream`): with code splitting esbuild
 * gives it only a `default` export, where Node gives its named exports too. It is sent through a
 * small ESM module naming those exports (read by requiring the package here).
 */
const commonJsNamedExports = {
  name: 'commonjs-named-exports',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.kind !== 'dynamic-import' || args.path.startsWith('node:')) return undefined;
      const require = createRequire(join(args.resolveDir, 'x.js'));
      let file;
      try {
        file = require.resolve(args.path);
      } catch {
        return undefined; // ESM only (no require condition): esbuild resolves it
      }
      if (!file.endsWith('.cjs') && !(file.endsWith('.js') && packageType(file) === 'commonjs')) return undefined;
      const names = Object.keys(require(args.path)).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== 'default');
      return { path: args.path, namespace: 'cjs-named', pluginData: { names, resolveDir: args.resolveDir } };
    });
    b.onLoad({ filter: /.*/, namespace: 'cjs-named' }, (args) => ({
      contents: [
        `import * as m from ${JSON.stringify(args.path)};`,
        `export const { ${args.pluginData.names.join(', ')} } = m;`,
        'export default m;',
      ].join('\n'),
      resolveDir: args.pluginData.resolveDir,
      loader: 'js',
    }));
  },
};

const chunks = join(dist, 'cli-chunks');
const { metafile } = await build({
  absWorkingDir: pkg,
  entryPoints: { cli: 'src/cli.ts' },
  outdir: dist,
  chunkNames: 'cli-chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  minifySyntax: true,
  // CommonJS dependencies bundled into ESM still call require() for Node's own modules.
  banner: {
    js: "import { createRequire as pgfleetRequire } from 'node:module';\nconst require = pgfleetRequire(import.meta.url);",
  },
  plugins: [platformOutside, commonJsNamedExports],
  logLevel: 'warning',
  metafile: true,
});

// Chunks of earlier builds go once no CLI started before this build can still load one (they are
// loaded lazily, by names that change with their content); the ones just written stay.
const written = new Set(Object.keys(metafile.outputs).map((file) => join(pkg, file)));
const STALE_MS = 10 * 60_000;
for (const name of existsSync(chunks) ? readdirSync(chunks) : []) {
  const file = join(chunks, name);
  if (!written.has(file) && Date.now() - statSync(file).mtimeMs > STALE_MS) rmSync(file, { force: true });
}
