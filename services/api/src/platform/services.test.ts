import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { supervise } from './services.js';

const dir = mkdtempSync(join(tmpdir(), 'pgfleet-supervise-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** A stand-in service: runs until a signal, then exits 1 like a service shutting down on Ctrl-C. */
const entry = join(dir, 'service.mjs');
writeFileSync(entry, "process.on('SIGINT', () => process.exit(1)); setInterval(() => undefined, 1000);\n");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('the service supervisor', () => {
  it('restarts a service that dies on its own, and says so', async () => {
    const logs: string[] = [];
    const s = supervise('demo', entry, process.env, (m) => logs.push(m));
    await sleep(300);
    const first = s.pid!;
    process.kill(first, 'SIGKILL');
    await sleep(1800);
    expect(s.pid).not.toBe(first);
    expect(alive(s.pid!)).toBe(true);
    expect(logs).toEqual(['service demo exited (SIGKILL); restarting']);
    await s.stop();
    expect(alive(s.pid!)).toBe(false);
  });

  it('never restarts a service once stopping, even one that exits on the Ctrl-C of the group first', async () => {
    const logs: string[] = [];
    const s = supervise('demo', entry, process.env, (m) => logs.push(m));
    await sleep(300);
    const pid = s.pid!;
    // The group's SIGINT reaches the service as `up` starts stopping: it exits before its SIGTERM.
    process.kill(pid, 'SIGINT');
    s.markStopping();
    await sleep(1800);
    expect(s.pid).toBe(pid);
    expect(alive(pid)).toBe(false);
    expect(logs).toEqual([]);
    await s.stop();
  });

  it('a service that ignores SIGTERM is killed after the grace period', async () => {
    const stubborn = join(dir, 'stubborn.mjs');
    writeFileSync(stubborn, "process.on('SIGTERM', () => undefined); setInterval(() => undefined, 1000);\n");
    const s = supervise('stubborn', stubborn, process.env, () => undefined);
    await sleep(300);
    const at = Date.now();
    await s.stop(500);
    expect(Date.now() - at).toBeLessThan(3000);
    expect(alive(s.pid!)).toBe(false);
  });
});
