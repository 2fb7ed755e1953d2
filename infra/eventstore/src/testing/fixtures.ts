import { randomBytes } from 'node:crypto';
import type { EventEnvelope } from '@pgfleet/contracts';
import type { AppendResult, Checkpoint, EventStore, ExpectedVersion, NewEvent } from '../port.js';

/** What an adapter gives the contract suite for one test. */
export interface ContractStore {
  store: EventStore;
  cleanup(): Promise<void>;
  /**
   * Append keeping the write transaction open until `hold` resolves, so tests can make
   * transactions commit out of order. Adapters without client transactions leave it out.
   */
  holdOpenAppend?: (
    streamId: string,
    events: readonly NewEvent[],
    options: { expectedVersion?: ExpectedVersion; hold: () => Promise<void> },
  ) => Promise<AppendResult>;
}

export type MakeContractStore = () => Promise<ContractStore>;

/** A tag unique to one test, so tests can share a server (and its global order) safely. */
export function uniqueTag(): string {
  return randomBytes(6).toString('hex');
}

export function streamOf(tag: string, name: string | number): string {
  return `cluster-${tag}_${name}`;
}

export function ownedBy(tag: string): (event: EventEnvelope) => boolean {
  const prefix = `cluster-${tag}_`;
  return (event) => event.streamId.startsWith(prefix);
}

export function nodeStopped(nodeId: string, extra: Partial<NewEvent> = {}): NewEvent {
  return { type: 'NodeStopped', data: { nodeId }, ...extra } as NewEvent;
}

export function nodeStarted(nodeId: string, port: number): NewEvent {
  return { type: 'NodeStarted', data: { nodeId, port } } as NewEvent;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Poll until `condition` holds; fails with `what` after `timeoutMs` (a deadline, not a measure). */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Every event of the global order (filtered), read page by page from the beginning. */
export async function readAllPages(
  store: EventStore,
  filter: (e: EventEnvelope) => boolean,
  limit = 100,
): Promise<{ events: EventEnvelope[]; checkpoints: Checkpoint[] }> {
  const events: EventEnvelope[] = [];
  const checkpoints: Checkpoint[] = [];
  let after: Checkpoint = null;
  for (;;) {
    const page = await store.readAll({ after, limit });
    if (page.events.length === 0) return { events, checkpoints };
    for (const event of page.events) if (filter(event)) events.push(event);
    checkpoints.push(page.checkpoint);
    after = page.checkpoint;
  }
}

/** Run `fn` with a fresh store, always cleaning up. */
export async function withStore<T>(make: MakeContractStore, fn: (s: ContractStore) => Promise<T>): Promise<T> {
  const s = await make();
  try {
    return await fn(s);
  } finally {
    await s.cleanup();
  }
}
