import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('./lineWidth.mjs', import.meta.url));
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

async function run(files: Record<string, string>): Promise<{ code: number; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'pgfleet-lines-'));
  dirs.push(dir);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, 'services'], { cwd: dir }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

describe('npm run lines (tooling/lineWidth.mjs)', () => {
  it('lists each TypeScript line over 120 characters as file:line and exits 1', async () => {
    const { code, output } = await run({
      'services/backup/src/a.ts': `const ok = 1;\n// ${'x'.repeat(118)}\n`,
      'services/backup/src/b.test.ts': `const s = '${'→'.repeat(120)}';\n`,
    });
    expect(output).toContain('services/backup/src/a.ts:2: 121 characters');
    expect(output).toContain('services/backup/src/b.test.ts:1: 133 characters');
    expect(code).toBe(1);
  });

  it('counts characters, not bytes, and skips dist, node_modules and non-TypeScript files', async () => {
    const { code, output } = await run({
      'services/backup/src/a.ts': `// ${'é'.repeat(117)}\n`,
      'services/backup/dist/a.ts': `// ${'x'.repeat(200)}\n`,
      'services/backup/node_modules/x/a.ts': `// ${'x'.repeat(200)}\n`,
      'services/backup/README.md': `${'x'.repeat(200)}\n`,
    });
    expect(output).toMatch(/no line longer than 120 characters/);
    expect(code).toBe(0);
  });
});
