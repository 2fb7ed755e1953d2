import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';

/** Whether a process runs (a zombie left unreaped by this container's init does not count). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** A lock file without a pid is taken over once it is this old. */
const EMPTY_LOCK_STALE_MS = 5000;

const mtimeOf = (file: string) => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return Date.now(); // gone meanwhile: the next attempt takes it
  }
};

/**
 * Run `fn` holding an exclusive lock file (created with O_EXCL, holding our pid), so two
 * control-plane processes never start, stop or remove the same node or gateway at once. A lock
 * whose holder died is taken over, as is one without a pid that is more than 5 s old.
 */
export async function withFileLock<T>(file: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
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
      // No pid in it (a holder killed between create and write, or a file made by hand): stale after a while.
      if (!(holder > 0) && Date.now() - mtimeOf(file) > EMPTY_LOCK_STALE_MS) {
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
