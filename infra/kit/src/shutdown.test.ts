import { afterEach, describe, expect, it } from 'vitest';
import { gracefulShutdown, type Shutdown } from './shutdown.js';

let current: Shutdown | undefined;
afterEach(() => current?.dispose());

function setup(timeoutMs = 1_000) {
  const order: string[] = [];
  const exits: number[] = [];
  const logged: string[] = [];
  const logger = {
    info: (_o: unknown, m?: string) => void logged.push(`info ${m}`),
    warn: (_o: unknown, m?: string) => void logged.push(`warn ${m}`),
    error: (_o: unknown, m?: string) => void logged.push(`error ${m}`),
  };
  current = gracefulShutdown({ timeoutMs, exit: (code) => void exits.push(code), logger: logger as never });
  return { shutdown: current, order, exits, logged };
}

describe('graceful shutdown', () => {
  it('on SIGTERM runs the closers in reverse registration order, then exits 0', async () => {
    const { shutdown, order, exits } = setup();
    shutdown.register('store', () => void order.push('store'));
    shutdown.register('nats', async () => {
      await new Promise((r) => setTimeout(r, 10));
      order.push('nats');
    });
    shutdown.register('consumers', () => void order.push('drain consumers'));
    process.emit('SIGTERM');
    await shutdown.shutdown('test');
    expect(order).toEqual(['drain consumers', 'nats', 'store']);
    expect(exits).toEqual([0]);
  });

  it('is idempotent: a second signal or call neither reruns the closers nor exits twice', async () => {
    const { shutdown, order, exits } = setup();
    shutdown.register('store', () => void order.push('store'));
    const first = shutdown.shutdown('SIGINT');
    const second = shutdown.shutdown('SIGTERM');
    expect(second).toBe(first);
    await first;
    expect(order).toEqual(['store']);
    expect(exits).toEqual([0]);
  });

  it('a closer that hangs or fails is bounded and does not stop the others; the exit code says so', async () => {
    const { shutdown, order, exits, logged } = setup(50);
    shutdown.register('store', () => void order.push('store'));
    shutdown.register('broken', () => {
      throw new Error('boom');
    });
    shutdown.register('hung', () => new Promise(() => {}));
    expect(await shutdown.shutdown('SIGTERM')).toBe(1);
    expect(order).toEqual(['store']);
    expect(exits).toEqual([1]);
    expect(logged).toEqual(['info shutting down', 'warn closer timed out', 'error closer failed', 'info closed']);
  });

  it('removes its signal handlers once done', async () => {
    const before = process.listenerCount('SIGTERM');
    const { shutdown } = setup();
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    await shutdown.shutdown('test');
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });
});
