/**
 * Runs the benchmarks in order, or only the one named: `npm run bench -w @pgfleet/test -- eventstore`.
 * Each benchmark starts and removes its own servers; sizes come from the environment (see README.md).
 */
const BENCHMARKS: Record<string, () => Promise<void>> = {
  eventstore: async () => (await import('./eventstore/index.js')).runEventstoreBench(),
  provisioning: async () => (await import('./provisioning/index.js')).runProvisioningBench(),
  backup: async () => (await import('./backup/index.js')).runBackupBench(),
  failover: async () => (await import('./failover/index.js')).runFailoverBench(),
  chaos: async () => (await import('./chaos/index.js')).runChaosBench(),
  pitr: async () => (await import('./pitr/index.js')).runPitrBench(),
  'pitr-cli': async () => (await import('./pitr/cli.js')).runPitrCliBench(),
  upgrade: async () => (await import('./upgrade/index.js')).runUpgradeBench(),
  docker: async () => (await import('./docker/index.js')).runDockerBench(),
};

async function main(): Promise<void> {
  const names = process.argv.slice(2).filter((a) => a !== '--');
  const unknown = names.filter((n) => !(n in BENCHMARKS));
  if (unknown.length > 0) {
    console.error(`unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
    process.exit(2);
  }
  for (const name of names.length > 0 ? names : Object.keys(BENCHMARKS)) {
    console.error(`[bench] === ${name} ===`);
    await BENCHMARKS[name]!();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
