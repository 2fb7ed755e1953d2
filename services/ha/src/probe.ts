import { nodeStatus } from '@pgfleet/postgres';
import type { NodeRuntime } from '@pgfleet/runtime';
import type { NodeProbe } from './domain/assess.js';

/** A WAL receiver that has not heard from its sender for this long does not stream from a live leader. */
const STREAM_SILENCE_MS = 3000;

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Resolve with `promise` or reject after `ms` (the promise is left to settle on its own). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Probe one node: its process through the runtime (a dead postmaster is known at once), then its
 * server over the superuser's socket, bounded by `timeoutMs` (a frozen server accepts the
 * connection and never answers).
 */
export async function probeNode(runtime: NodeRuntime, runtimeId: string, timeoutMs: number): Promise<NodeProbe> {
  const { state } = await runtime.status(runtimeId);
  if (state !== 'running') return { process: state, reachable: false };
  try {
    const endpoint = await runtime.endpoint(runtimeId);
    const target = { ...endpoint, connectTimeoutMs: timeoutMs, queryTimeoutMs: timeoutMs };
    const s = await within(nodeStatus(target), timeoutMs * 2, 'the server');
    return {
      process: 'running',
      reachable: true,
      inRecovery: s.inRecovery,
      timeline: s.timeline,
      // Streaming, and heard from its sender lately (a healthy idle stream hears from it every second).
      receiverStreaming: s.receiver?.status === 'streaming' && (s.receiver.silentMs ?? Infinity) < STREAM_SILENCE_MS,
      ...(typeof s.receiver?.silentMs === 'number' ? { receiverSilentMs: s.receiver.silentMs } : {}),
      senderPort: s.receiver?.senderPort ?? null,
      // Replay may be ahead of what the receiver flushed (WAL found in pg_wal): no lag then.
      ...(s.replayLagBytes !== undefined ? { replayLagBytes: Math.max(0, s.replayLagBytes) } : {}),
      ...(s.inRecovery
        ? {}
        : { streamingStandbys: s.standbys.filter((x) => x.state === 'streaming').map((x) => x.applicationName) }),
      synchronousStandbyNames: s.synchronousStandbyNames,
    };
  } catch (error) {
    return { process: 'running', reachable: false, error: message(error) };
  }
}
