import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '@pgfleet/postgres';
import { startNatsServer, type NatsServerHandle } from './natsServer.js';

const dir = mkdtempSync(join(tmpdir(), 'pgfleet-nats-server-'));
const started: NatsServerHandle[] = [];
afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

const processGroupOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[2]);

describe('the embedded nats-server', () => {
  it("runs in a process group of its own: a terminal's Ctrl-C to the platform's group does not reach it", async () => {
    const server = await startNatsServer({ port: await freePort(), storeDir: join(dir, 'own-group') });
    started.push(server);
    expect(processGroupOf(server.pid!)).toBe(server.pid);
    expect(processGroupOf(server.pid!)).not.toBe(processGroupOf(process.pid));
  });

  it('stops a server an owner killed -9 left running on the same store before it starts a new one', async () => {
    const port = await freePort();
    const storeDir = join(dir, 'stale');
    const first = await startNatsServer({ port, storeDir });
    const stalePid = first.pid!;
    // What an owner killed -9 leaves: the server still running, its pid file in the store, the port taken.
    const second = await startNatsServer({ port, storeDir });
    started.push(second);
    expect(second.pid).not.toBe(stalePid);
    expect(() => process.kill(stalePid, 0)).toThrow();
    expect(readFileSync(join(storeDir, 'nats-server.pid'), 'utf8').trim()).toBe(String(second.pid));
  });

  it('leaves alone a process the pid file names that is not its nats-server', async () => {
    const storeDir = join(dir, 'reused');
    const first = await startNatsServer({ port: await freePort(), storeDir });
    await first.stop();
    const other = spawn('sleep', ['30']);
    writeFileSync(join(storeDir, 'nats-server.pid'), String(other.pid));
    const server = await startNatsServer({ port: await freePort(), storeDir });
    started.push(server);
    expect(() => process.kill(other.pid!, 0)).not.toThrow();
    other.kill();
    await once(other, 'exit');
  });
});
