import type { CommandAuthorizer } from '@pgfleet/bus';
import { foldClusterView, streamIds, type CommandReply } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';

/** The fields of a command that name a cluster it acts on or reads from. */
const CLUSTER_FIELDS = ['clusterId', 'targetClusterId'] as const;

const refusal = (code: string, message: string, field: string): CommandReply => ({
  ok: false,
  code,
  message,
  details: { field },
});

/**
 * Every service's check of a command scoped to an account (`meta.account`, set by the API from
 * the caller's token): it may name only its own account (`accountId`) and act only on that
 * account's clusters. Another account's cluster is refused exactly like one that does not exist,
 * so nothing is learnt about others. Commands without `meta.account` (the admin, the services'
 * own) pass: who may send a command at all is NATS's permissions' business.
 */
export function accountGuard(store: EventStore): CommandAuthorizer {
  return async (_command, data, meta) => {
    const account = meta.account;
    if (account === undefined) return undefined;
    if (typeof data.accountId === 'string' && data.accountId !== account) {
      return refusal(
        'ACCOUNT_FORBIDDEN',
        `this command is scoped to account ${account} only, not to ${data.accountId}`,
        'accountId',
      );
    }
    for (const field of CLUSTER_FIELDS) {
      const clusterId = data[field];
      if (typeof clusterId !== 'string') continue;
      const view = foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events);
      if (view.accountId !== account) return refusal('CLUSTER_NOT_FOUND', `no cluster ${clusterId}`, field);
    }
    return undefined;
  };
}
