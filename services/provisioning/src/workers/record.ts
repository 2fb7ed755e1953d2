import { foldClusterView, streamIds, type Actor, type ClusterView, type CommandReply } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { handleCommand, type CommandContext } from '@pgfleet/kit';
import { clusterDecider, type RecordCommand } from '../domain/cluster.js';
import type { ExtensionOutcome } from '../domain/extensions.js';

export const PROVISIONING_ACTOR: Actor = { kind: 'service', id: 'provisioning' };

/**
 * The event store did not answer (lost infrastructure): the work is thrown back, so its event is
 * redelivered later, and never recorded as a failure of the cluster.
 */
export class StoreUnavailable extends Error {
  constructor(what: string, cause: unknown) {
    super(`the event store is unavailable (${what}): ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = 'StoreUnavailable';
  }
}

/** Run a call to the store; what it throws (it throws only for lost infrastructure) becomes StoreUnavailable. */
export async function fromStore<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw error instanceof StoreUnavailable ? error : new StoreUnavailable(what, error);
  }
}

/** Read and fold a cluster's stream. */
export async function loadCluster(store: EventStore, clusterId: string) {
  const { events } = await fromStore('read', () => store.readStream(streamIds.cluster(clusterId)));
  return { view: foldClusterView(events), lastEventId: events.at(-1)?.id ?? null, events };
}

/**
 * Record a worker's outcome in `cluster-{clusterId}`: decided against the current stream and
 * appended with its version as expected version (decided again on a conflict), so a stale or
 * repeated outcome records nothing. A store that does not answer throws StoreUnavailable.
 */
export function recordOutcome(
  store: EventStore,
  clusterId: string,
  command: RecordCommand | ExtensionOutcome,
  meta: CommandContext = {},
): Promise<CommandReply> {
  return fromStore(command.type, () =>
    handleCommand({
      store,
      streamId: streamIds.cluster(clusterId),
      ...clusterDecider,
      command,
      meta: { ...meta, actor: meta.actor ?? PROVISIONING_ACTOR },
    }),
  );
}

/** An outcome the cluster's history refused (another worker, a delete or a failure moved it on). */
export class StaleOutcome extends Error {
  constructor(
    readonly command: RecordCommand,
    readonly code: string,
    message: string,
  ) {
    super(`${command.type} not recorded: ${message}`);
    this.name = 'StaleOutcome';
  }
}

/**
 * One cluster as a worker sees it while it works on it: the view folded from the stream, kept
 * current as the worker records outcomes (several steps may record at once).
 */
export class ClusterProgress {
  private constructor(
    private readonly store: EventStore,
    readonly clusterId: string,
    private current: ClusterView,
    private lastEventId: string | null,
    /** Outcomes carry the correlation id of the request that started the cluster. */
    private readonly correlationId: string | undefined,
  ) {}

  static async load(store: EventStore, clusterId: string): Promise<ClusterProgress> {
    const { view, lastEventId, events } = await loadCluster(store, clusterId);
    return new ClusterProgress(store, clusterId, view, lastEventId, events[0]?.correlationId);
  }

  get view(): ClusterView {
    return this.current;
  }

  /** Record an outcome, caused by the last event seen; throws StaleOutcome when the decider refuses it. */
  async record(command: RecordCommand): Promise<void> {
    const meta: CommandContext = { causationId: this.lastEventId, actor: PROVISIONING_ACTOR };
    if (this.correlationId) meta.correlationId = this.correlationId;
    const reply = await recordOutcome(this.store, this.clusterId, command, meta);
    if (!reply.ok) throw new StaleOutcome(command, reply.code, reply.message);
    if (reply.version !== this.current.version_) await this.refresh();
  }

  private async refresh(): Promise<void> {
    const { view, lastEventId } = await loadCluster(this.store, this.clusterId);
    if (view.version_ < this.current.version_) return;
    this.current = view;
    this.lastEventId = lastEventId;
  }
}
