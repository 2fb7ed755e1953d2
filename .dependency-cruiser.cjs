// Architecture rules, checked by `npm run deps` (part of `npm test`).
//
// Workspace packages are imported by name (`@pgfleet/provisioning`); tooling/tsconfig.depcruise.json maps
// those names to each package's sources, so every rule below matches on real paths (`services/provisioning/…`)
// whether or not the packages are built. The `@pgfleet/<name>` alternatives are a fallback for a name the
// tsconfig cannot map. npm packages match whether resolved (`node_modules/pg/…`) or not (`pg`).

const SERVICES = '(provisioning|networking|backup|ha|pitr|upgrade|billing|api)';
const npm = (name) => [`(^|/)node_modules/${name}/`, `^${name}$`];
const builtin = (...names) => `^(node:)?(${names.join('|')})$`;
const infra = (...names) => [`^infra/(${names.join('|')})/`, `^@pgfleet/(${names.join('|')})(/|$)`];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'service-imports-service',
      comment:
        'A service never imports another service, by path or by package name: ' +
        'share through contracts/ (events, views) or an infra/ package.',
      severity: 'error',
      from: { path: `^services/${SERVICES}/` },
      to: {
        path: [`^services/${SERVICES}/`, `^@pgfleet/${SERVICES}(/|$)`],
        pathNot: ['^services/$1/', '^@pgfleet/$1(/|$)'],
      },
    },
    {
      name: 'infra-imports-service',
      comment: 'infra/ packages are below the services: they never import one.',
      severity: 'error',
      from: { path: '^infra/' },
      to: { path: ['^services/', `^@pgfleet/${SERVICES}(/|$)`] },
    },
    {
      name: 'contracts-do-io',
      comment:
        'contracts/src is the shared language: schemas and pure helpers, ' +
        'no I/O and no other @pgfleet package (its scripts/ may write files).',
      severity: 'error',
      from: { path: '^contracts/src/' },
      to: {
        path: [
          ...npm('pg'),
          ...npm('@nats-io/[^/]+'),
          builtin('fs', 'fs/promises', 'child_process', 'net', 'http', 'https'),
          '^(infra|services|test)/',
          '^@pgfleet/(?!contracts(/|$))',
        ],
      },
    },
    {
      name: 'domain-does-io',
      comment:
        'A domain/ folder is pure (decide/evolve): no database, bus, process, file or network; workers do the I/O.',
      severity: 'error',
      from: { path: '(^|/)domain/' },
      to: {
        path: [
          ...npm('pg'),
          ...npm('@nats-io/[^/]+'),
          builtin('fs', 'fs/promises', 'child_process', 'net', 'http', 'https'),
          ...infra('eventstore', 'bus', 'runtime', 'postgres', 'gateway', 'backupstore'),
        ],
      },
    },
  ],
  options: {
    // dist is built output; hidden folders (.turbo, .pgfleet, scratch copies) are not sources.
    exclude: { path: '(^|/)(dist|\\.[^/]+)/' },
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tooling/tsconfig.depcruise.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts', '.json'],
    },
    skipAnalysisNotInRules: true,
  },
};
