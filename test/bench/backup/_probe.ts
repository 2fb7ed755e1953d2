import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform } from '../../e2e/harness.js';
import { waitForServices } from '../../e2e/ready.js';
const BIN = '/usr/lib/postgresql/15/bin';
const t = await startPlatform();
const dir = mkdtempSync(join(tmpdir(), 'probe-'));
try {
  await waitForServices(t);
  await t.cli('cluster', 'create', 'probe', '--plan', 'starter-512');
  const url = (await t.cli('cluster', 'url', 'probe')).stdout.trim();
  spawnSync(join(BIN, 'pgbench'), ['-i', '-q', '-s', '20', url]);
  const shown = JSON.parse((await t.cli('cluster', 'show', 'probe', '--json')).stdout);
  const node = shown.nodes[0];
  const direct = url.replace(/:(\d+)\/app$/, `:${node.port}/app`);
  const sock = join(t.home, 'clusters', shown.clusterId);
  
  const time = (label: string, cmd: string) => {
    const s = performance.now(); const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8' }); console.log(label, (performance.now() - s).toFixed(0), 'ms', r.status, r.stderr.slice(0, 200));
  };
  for (let i = 0; i < 3; i++) {
    time('file tcp   ', `${BIN}/pg_dump -Fc -f ${dir}/a.dump '${direct}'`);
    time('pipe tcp   ', `${BIN}/pg_dump -Fc '${direct}' | cat > ${dir}/b.dump`);
    time('pipe sha   ', `${BIN}/pg_dump -Fc '${direct}' | tee ${dir}/c.dump | sha256sum`);
    const s = performance.now(); const r = await t.cli('backup', 'create', 'probe', '--json'); const b = JSON.parse(r.stdout);
    console.log('pgfleet    ', (performance.now() - s).toFixed(0), 'ms; dump', b.duration);
  }
} finally { await t.cleanup(); rmSync(dir, { recursive: true, force: true }); }
