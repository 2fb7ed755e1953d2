import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Runs `npm run deps` (dependency-cruiser with the repository's config) on two small trees laid out like the
// repository: a clean one, which must pass, and the same with one planted violation per rule, which must fail
// naming each. Two runs of the cruiser, side by side: a few seconds.

const REPO = fileURLToPath(new URL('..', import.meta.url));
const DEPCRUISE = join(REPO, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const CONFIG_FILES = ['.dependency-cruiser.cjs', 'tooling/tsconfig.depcruise.json'];

/** A clean tree: contracts, two infra packages, three services with a domain/ folder, an e2e harness. */
const CLEAN: Record<string, string> = {
  'contracts/src/index.ts': "export const CLUSTER_CREATED = 'ClusterCreated';\n",
  'infra/kit/src/index.ts':
    "import { CLUSTER_CREATED } from '@pgfleet/contracts';\nexport const kit = CLUSTER_CREATED;\n",
  'infra/eventstore/src/index.ts': "import pg from 'pg';\nexport const store = pg;\n",
  'services/provisioning/src/index.ts': "export { foldCluster } from './domain/cluster.js';\n",
  'services/provisioning/src/domain/cluster.ts': [
    "import { CLUSTER_CREATED } from '@pgfleet/contracts';",
    "import { kit } from '@pgfleet/kit';",
    'export const foldCluster = (types: string[]) => types.filter((t) => t === CLUSTER_CREATED || t === kit);',
    '',
  ].join('\n'),
  'services/provisioning/src/workers/reconcile.ts': [
    "import { readFileSync } from 'node:fs';",
    "import { store } from '@pgfleet/eventstore';",
    "import { foldCluster } from '../domain/cluster.js';",
    "export const reconcile = () => [store, foldCluster([readFileSync('/dev/null', 'utf8')])];",
    '',
  ].join('\n'),
  'services/backup/src/index.ts': "export { decideBackup } from './domain/backups.js';\n",
  'services/backup/src/domain/backups.ts': 'export const decideBackup = (count: number) => count < 5;\n',
  'services/api/src/index.ts': "export const up = () => 'up';\n",
  'test/e2e/harness.ts': "import { up } from '@pgfleet/api';\nexport const start = up;\n",
};

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

/** The clean tree plus `planted` files, with the repository's config, in a fresh temp directory. */
async function tree(planted: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pgfleet-deps-'));
  dirs.push(dir);
  for (const [path, text] of Object.entries({ ...CLEAN, ...planted })) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  for (const file of CONFIG_FILES) await cp(join(REPO, file), join(dir, file));
  return dir;
}

/** `npm run deps` in `cwd`: the same arguments as the root package.json script. */
async function deps(cwd: string): Promise<{ code: number; output: string }> {
  const script: string = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')).scripts.deps;
  const [bin, ...args] = script.split(/\s+/);
  expect(bin).toBe('depcruise');
  return new Promise((resolve) => {
    execFile(process.execPath, [DEPCRUISE, ...args], { cwd }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

/** One planted file per case, at distinct paths, so a single run of the cruiser covers every rule. */
const VIOLATIONS = [
  {
    proven: 'a service importing another service by package name',
    path: 'services/backup/src/workers/cluster.ts',
    text: "import { foldCluster } from '@pgfleet/provisioning';\nexport const f = foldCluster;\n",
    violation: 'service-imports-service: services/backup/src/workers/cluster.ts → services/provisioning/src/index.ts',
  },
  {
    proven: 'a service importing only a type of another service',
    path: 'services/api/src/http/server.ts',
    text: "import type { foldCluster } from '@pgfleet/provisioning';\nexport type F = typeof foldCluster;\n",
    violation: 'service-imports-service: services/api/src/http/server.ts → services/provisioning/src/index.ts',
  },
  {
    proven: "a service importing another service's file by relative path",
    path: 'services/api/src/http/backupRoutes.ts',
    text: "import { decideBackup } from '../../../backup/src/domain/backups.js';\nexport const d = decideBackup;\n",
    violation: 'service-imports-service: services/api/src/http/backupRoutes.ts → services/backup/src/domain/backups.ts',
  },
  {
    proven: 'a domain/ file reading a file (node:fs)',
    path: 'services/backup/src/domain/retention.ts',
    text: "import { readFileSync } from 'node:fs';\nexport const retention = () => readFileSync('/dev/null');\n",
    violation: 'domain-does-io: services/backup/src/domain/retention.ts → fs',
  },
  {
    proven: 'a domain/ file using the event store',
    path: 'services/provisioning/src/domain/switchover.ts',
    text: "import { store } from '@pgfleet/eventstore';\nexport const switchover = () => store;\n",
    violation: 'domain-does-io: services/provisioning/src/domain/switchover.ts → infra/eventstore/src/index.ts',
  },
  {
    proven: 'an infra package importing a service',
    path: 'infra/kit/src/runService.ts',
    text: "import { up } from '@pgfleet/api';\nexport const run = up;\n",
    violation: 'infra-imports-service: infra/kit/src/runService.ts → services/api/src/index.ts',
  },
  {
    proven: 'contracts importing a database driver',
    path: 'contracts/src/store.ts',
    text: "import pg from 'pg';\nexport const client = pg;\n",
    violation: 'contracts-do-io: contracts/src/store.ts → pg',
  },
];

describe('npm run deps (dependency-cruiser rules)', () => {
  let clean: { code: number; output: string };
  let planted: { code: number; output: string };
  beforeAll(async () => {
    [clean, planted] = await Promise.all([
      tree().then(deps),
      tree(Object.fromEntries(VIOLATIONS.map((v) => [v.path, v.text]))).then(deps),
    ]);
  });

  it('passes on a clean tree: workers do I/O, domains use contracts and kit, e2e imports @pgfleet/api', () => {
    expect(clean.output).toMatch(/no dependency violations found/);
    expect(clean.code).toBe(0);
  });

  it.each(VIOLATIONS.map((v) => [v.proven, v.violation]))('fails naming the rule on %s', (_, violation) => {
    expect(planted.output).toContain(`error ${violation}`);
  });

  it('exits non-zero with one error per planted violation and no other', () => {
    const n = VIOLATIONS.length;
    expect(planted.output).toContain(`x ${n} dependency violations (${n} errors, 0 warnings)`);
    expect(planted.code).not.toBe(0);
  });
});
