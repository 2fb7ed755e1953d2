import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { pidAlive } from './procfs.js';

/**
 * Run `fn` holding an exclusive lock file (O_EXCL, holding our pid), so two control-plane
 * processes never start or stop the same gateway at once. A lock whose holder died is taken over.
 */
export async function withLock<T>(file: string, fn: () => Promise<T>, timeoutMs = 60000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder = NaN;
      try {
        holder = Number(readFileSync(file, 'utf8'));
      } catch {
        continue; // released meanwhile
      }
      if (Number.isInteger(holder) && holder > 0 && !pidAlive(holder)) {
        rmSync(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`lock ${file} held by pid ${holder} for ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}
