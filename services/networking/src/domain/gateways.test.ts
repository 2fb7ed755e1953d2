import { describe, expect, it } from 'vitest';
import { foldClusterView as foldClusterEvents, type DomainEvent } from '@pgfleet/contracts';
import { deciderSpec } from '@pgfleet/kit/testing';
import {
  decideGateways,
  entryPoint,
  readOnlyEntryPoint,
  foldGateways as foldGatewayEvents,
  gatewayIds,
  gatewaysDecider,
  initialGatewaysState,
  type GatewayEvent,
  type GatewaysCommand,
} from './gateways.js';

// The folds, typed on the events they fold (so a fixture with a wrong field does not compile).
const foldClusterView = (events: DomainEvent[]) => foldClusterEvents(events);
const foldGateways = (events: GatewayEvent[]) => foldGatewayEvents(events);

const requested: DomainEvent = {
  type: 'ClusterRequested',
  data: {
    clusterId: 'c',
    name: 'shop',
    accountId: 'a',
    plan: 'business-1024',
    version: 15,
    secretRef: 'r',
    nodes: [
      { nodeId: 'node1', role: 'leader' },
      { nodeId: 'node2', role: 'follower' },
    ],
  },
};
const provisioned = (nodeId: string, port: number): DomainEvent => ({
  type: 'NodeProvisioned',
  data: { nodeId, role: 'follower', port },
});
const ready: DomainEvent = {
  type: 'ClusterReady',
  data: { leader: 'node1', host: '127.0.0.1', port: 1, database: 'app', user: 'app' },
};

describe('gateways, given/when/then', () => {
  it('while the cluster is provisioned: its gateways are prepared, nothing more', () => {
    const cluster = foldClusterView([requested, provisioned('node1', 5001)]);
    expect(decideGateways(cluster, 2, initialGatewaysState())).toEqual({ kind: 'prepare', gatewayIds: ['gw1', 'gw2'] });
  });

  it('a ready cluster: every gateway of the plan, forwarding to the leader, over the provisioned nodes', () => {
    const cluster = foldClusterView([requested, provisioned('node1', 5001), provisioned('node2', 5002), ready]);
    expect(decideGateways(cluster, 2, initialGatewaysState())).toEqual({
      kind: 'ensure',
      gatewayIds: ['gw1', 'gw2'],
      leader: 'node1',
      readOnly: ['node2'],
      fenced: [],
      nodes: [
        { nodeId: 'node1', port: 5001 },
        { nodeId: 'node2', port: 5002 },
      ],
      surplus: [],
    });
  });

  it('a plan with fewer gateways now (Business -> Starter): the gateways beyond it are surplus', () => {
    const cluster = foldClusterView([requested, provisioned('node1', 5001), ready]);
    const started = (gatewayId: string): GatewayEvent => ({
      type: 'GatewayStarted',
      data: { gatewayId, host: '127.0.0.1', port: 6000 },
    });
    const state = foldGateways([started('gw1'), started('gw2')]);
    expect(decideGateways(cluster, 1, state)).toMatchObject({ kind: 'ensure', gatewayIds: ['gw1'], surplus: ['gw2'] });
    const removed = gatewaysDecider.decide({ type: 'RemoveGateway', gatewayId: 'gw2' }, state);
    expect(removed).toEqual({ ok: true, events: [{ type: 'GatewayRemoved', data: { gatewayId: 'gw2' } }] });
  });

  it('LeaderChanged: the gateways follow the new leader', () => {
    const cluster = foldClusterView([
      requested,
      provisioned('node1', 5001),
      provisioned('node2', 5002),
      ready,
      { type: 'LeaderChanged', data: { from: 'node1', to: 'node2', reason: 'switchover' } },
    ]);
    expect(decideGateways(cluster, 2, initialGatewaysState())).toMatchObject({ kind: 'ensure', leader: 'node2' });
  });

  it('a deleted cluster: remove once, then nothing', () => {
    const cluster = foldClusterView([requested, ready, { type: 'ClusterDeletionRequested', data: {} }]);
    const started = foldGateways([
      { type: 'GatewayStarted', data: { gatewayId: 'gw1', host: '127.0.0.1', port: 7000 } },
    ]);
    expect(decideGateways(cluster, 1, started)).toEqual({ kind: 'remove', gatewayIds: ['gw1'] });
    const removed = foldGateways([
      { type: 'GatewayStarted', data: { gatewayId: 'gw1', host: '127.0.0.1', port: 7000 } },
      { type: 'GatewaysRemoved', data: { gatewayIds: ['gw1'] } },
    ]);
    expect(decideGateways(cluster, 1, removed)).toEqual({ kind: 'none' });
    expect(removed.version_).toBe(2);
  });

  it('the entry point is the recorded address; gateway ids follow the plan', () => {
    expect(entryPoint(initialGatewaysState())).toBeUndefined();
    const s = foldGateways([
      { type: 'GatewayStarted', data: { gatewayId: 'gw1', host: '127.0.0.1', port: 7000 } },
      { type: 'GatewayLeaderSet', data: { leader: 'node1', gatewayIds: ['gw1'] } },
    ]);
    expect(entryPoint(s)).toEqual({ host: '127.0.0.1', port: 7000 });
    expect(s.leader).toBe('node1');
    expect(gatewayIds(1)).toEqual(['gw1']);
  });
});

describe('failover: fencing and the read-only endpoint, given/when/then', () => {
  const business: DomainEvent = {
    type: 'ClusterRequested',
    data: {
      clusterId: 'c',
      name: 'shop',
      accountId: 'a',
      plan: 'business-1024',
      version: 15,
      secretRef: 'r',
      nodes: [
        { nodeId: 'node1', role: 'leader' },
        { nodeId: 'node2', role: 'follower' },
        { nodeId: 'node3', role: 'follower' },
      ],
    },
  };
  const readyBusiness: DomainEvent[] = [
    business,
    provisioned('node1', 5001),
    provisioned('node2', 5002),
    provisioned('node3', 5003),
    ready,
  ];
  const failoverStarted = (from: string, term: number): DomainEvent => ({
    type: 'FailoverStarted',
    data: { operationId: `op-${term}`, term, from, reason: 'leader lost' },
  });
  const leaderChanged = (from: string, to: string, reason: 'failover' | 'switchover', term?: number): DomainEvent => ({
    type: 'LeaderChanged',
    data: { from, to, reason, ...(term ? { term, timeline: term + 1 } : {}) },
  });
  const rejoined = (nodeId: string, leader: string): DomainEvent => ({
    type: 'NodeRejoined',
    data: { nodeId, leader, method: 'rewind' },
  });
  const routes = (events: DomainEvent[], state = initialGatewaysState()) => {
    const action = decideGateways(foldClusterView(events), 2, state);
    if (action.kind !== 'ensure') throw new Error(`expected ensure, got ${action.kind}`);
    return { leader: action.leader, readOnly: action.readOnly, fenced: action.fenced };
  };

  it('a ready Business cluster: writes to the leader, reads round robin over both followers', () => {
    expect(routes(readyBusiness)).toEqual({ leader: 'node1', readOnly: ['node2', 'node3'], fenced: [] });
  });

  it('FailoverStarted: the old leader is out of every endpoint at once, and nobody takes writes yet', () => {
    expect(routes([...readyBusiness, failoverStarted('node1', 1)])).toEqual({
      leader: undefined,
      readOnly: ['node2', 'node3'],
      fenced: [{ nodeId: 'node1', term: 1 }],
    });
  });

  it('LeaderChanged of the failover: the new leader takes writes and leaves the reads; the fenced stays out', () => {
    const history = [...readyBusiness, failoverStarted('node1', 1), leaderChanged('node1', 'node2', 'failover', 1)];
    expect(routes(history)).toEqual({
      leader: 'node2',
      readOnly: ['node3'],
      fenced: [{ nodeId: 'node1', term: 1 }],
    });
  });

  it('a LeaderChanged naming a fenced node never enables it, for writes or reads', () => {
    const history = [...readyBusiness, failoverStarted('node1', 1), leaderChanged('node2', 'node1', 'switchover')];
    expect(routes(history)).toEqual({
      leader: undefined,
      readOnly: ['node2', 'node3'],
      fenced: [{ nodeId: 'node1', term: 1 }],
    });
  });

  it('NodeRejoined: the old leader serves reads again (a follower), never writes', () => {
    const history = [
      ...readyBusiness,
      failoverStarted('node1', 1),
      leaderChanged('node1', 'node2', 'failover', 1),
      rejoined('node1', 'node2'),
    ];
    expect(routes(history)).toEqual({ leader: 'node2', readOnly: ['node1', 'node3'], fenced: [] });
  });

  it('a second failover fences the new leader too; the first stays fenced (its term is no longer the last)', () => {
    const history = [
      ...readyBusiness,
      failoverStarted('node1', 1),
      leaderChanged('node1', 'node2', 'failover', 1),
      failoverStarted('node2', 2),
    ];
    expect(routes(history)).toEqual({
      leader: undefined,
      readOnly: ['node3'],
      fenced: [{ nodeId: 'node1' }, { nodeId: 'node2', term: 2 }],
    });
  });

  it('a switchover: the old leader serves reads at once (it is a follower, never fenced)', () => {
    expect(routes([...readyBusiness, leaderChanged('node1', 'node3', 'switchover')])).toEqual({
      leader: 'node3',
      readOnly: ['node1', 'node2'],
      fenced: [],
    });
  });

  it(
    'the history alone decides: after a restart, whatever the gateway stream recorded, ' + 'a fenced node stays out',
    () => {
      const history = [...readyBusiness, failoverStarted('node1', 1)];
      const recorded = foldGateways([
        gwStarted('gw1'),
        gwStarted('gw2'),
        leaderSet('node1'),
        { type: 'GatewayNodeFenced', data: { nodeId: 'node1', term: 1, gatewayIds: ['gw1', 'gw2'] } },
      ]);
      expect(routes(history, recorded)).toEqual(routes(history));
      expect(routes(history, foldGateways([gwStarted('gw1'), gwStarted('gw2'), leaderSet('node1')]))).toEqual(
        routes(history),
      );
    },
  );
});

describe('force TLS, given/when/then', () => {
  it(
    'a ready cluster: every provisioned node; a second time: already forced; ' + 'not ready or unknown: rejected',
    async () => {
      const { decideForceTls } = await import('./tls.js');
      const cluster = foldClusterView([requested, provisioned('node1', 5001), provisioned('node2', 5002), ready]);
      expect(decideForceTls(cluster, initialGatewaysState())).toEqual({
        ok: true,
        already: false,
        nodes: [
          { nodeId: 'node1', port: 5001 },
          { nodeId: 'node2', port: 5002 },
        ],
      });
      expect(
        decideForceTls(cluster, foldGateways([{ type: 'TlsForced', data: { nodes: ['node1', 'node2'] } }])),
      ).toMatchObject({ ok: true, already: true });
      expect(decideForceTls(foldClusterView([requested]), initialGatewaysState())).toMatchObject({
        ok: false,
        rejection: { code: 'NOT_READY' },
      });
      expect(decideForceTls(foldClusterView([]), initialGatewaysState())).toMatchObject({
        ok: false,
        rejection: { code: 'CLUSTER_NOT_FOUND' },
      });
    },
  );
});

describe('rotate certificates, given/when/then', () => {
  it('every provisioned node of a ready cluster; a cluster being deleted is rejected', async () => {
    const { decideRotateCertificates } = await import('./tls.js');
    const cluster = foldClusterView([requested, provisioned('node1', 5001), ready]);
    expect(decideRotateCertificates(cluster)).toEqual({ ok: true, nodes: [{ nodeId: 'node1', port: 5001 }] });
    const deleting = foldClusterView([requested, ready, { type: 'ClusterDeletionRequested', data: {} }]);
    expect(decideRotateCertificates(deleting)).toMatchObject({ ok: false, rejection: { code: 'NOT_READY' } });
  });
});

describe('expose, pre-check', () => {
  it("refused until TLS is forced (one sentence naming the fix); then the nodes and the gateways' port", async () => {
    const { decideExpose } = await import('./tls.js');
    const cluster = foldClusterView([requested, provisioned('node1', 5001), ready]);
    expect(decideExpose(cluster, initialGatewaysState())).toMatchObject({
      ok: false,
      rejection: { code: 'NOT_READY' },
    });
    const running = foldGateways([gwStarted('gw1')]);
    expect(decideExpose(cluster, running)).toMatchObject({
      ok: false,
      rejection: {
        code: 'TLS_NOT_FORCED',
        message: expect.stringContaining('cluster shop can be exposed only once TLS is forced'),
      },
    });
    expect(decideExpose(cluster, foldGateways([gwStarted('gw1'), tlsForced]))).toEqual({
      ok: true,
      already: false,
      nodes: [{ nodeId: 'node1', port: 5001 }],
      port: 7000,
    });
  });
});

describe('unexpose, pre-check', () => {
  it('unknown: refused; not exposed: nothing to close; exposed (ready or not): closed', async () => {
    const { decideUnexpose } = await import('./tls.js');
    expect(decideUnexpose(foldClusterView([]), initialGatewaysState())).toMatchObject({
      ok: false,
      rejection: { code: 'CLUSTER_NOT_FOUND' },
    });
    const cluster = foldClusterView([requested, provisioned('node1', 5001), ready]);
    expect(decideUnexpose(cluster, initialGatewaysState())).toEqual({ ok: true, already: true });
    expect(decideUnexpose(cluster, foldGateways([gwStarted('gw1'), tlsForced]))).toEqual({ ok: true, already: true });
    const exposed = foldGateways([
      gwStarted('gw1'),
      tlsForced,
      { type: 'ClusterExposed', data: { address: '0.0.0.0', port: 7000 } },
    ]);
    expect(decideUnexpose(cluster, exposed)).toEqual({ ok: true, already: false });
    const deleting = foldClusterView([requested, ready, { type: 'ClusterDeletionRequested', data: {} }]);
    expect(decideUnexpose(deleting, exposed)).toEqual({ ok: true, already: false });
  });
});

// ---- the gateway-{clusterId} decider ----------------------------------------------------------

const spec = deciderSpec(gatewaysDecider);
const gwStarted = (gatewayId: string, port = 7000): GatewayEvent => ({
  type: 'GatewayStarted',
  data: { gatewayId, host: '127.0.0.1', port },
});
const leaderSet = (leader: string): GatewayEvent => ({
  type: 'GatewayLeaderSet',
  data: { leader, gatewayIds: ['gw1', 'gw2'] },
});
const removed: GatewayEvent = { type: 'GatewaysRemoved', data: { gatewayIds: ['gw1', 'gw2'] } };
const tlsForced: GatewayEvent = { type: 'TlsForced', data: { nodes: ['node1', 'node2'] } };
const exposed: GatewayEvent = { type: 'ClusterExposed', data: { address: '10.0.0.1', port: 7000 } };
const start = (gatewayId: string, port = 7000): GatewaysCommand => ({
  type: 'StartGateway',
  gatewayId,
  host: '127.0.0.1',
  port,
});

describe("gateway stream: the reconciliation's outcomes", () => {
  it('a gateway started is recorded once; again on the same address records nothing', () => {
    spec
      .given([])
      .when(start('gw1'))
      .then([gwStarted('gw1')]);
    spec
      .given([gwStarted('gw1')])
      .when(start('gw1'))
      .then([]);
    spec
      .given([gwStarted('gw1')])
      .when(start('gw2'))
      .then([gwStarted('gw2')]);
  });

  it('the entry point is chosen once: a gateway on another port (a racing replica) is refused', () => {
    spec
      .given([gwStarted('gw1')])
      .when(start('gw2', 7001))
      .thenRejects('ENTRY_POINT_RECORDED', /serve 127\.0\.0\.1:7000, not 127\.0\.0\.1:7001/);
  });

  it('after removal, a stale worker records no start and no leader', () => {
    spec
      .given([gwStarted('gw1'), removed])
      .when(start('gw1'))
      .thenRejects('NOT_READY', /removed/);
    spec
      .given([gwStarted('gw1'), removed])
      .when({ type: 'SetGatewayLeader', leader: 'node1', gatewayIds: ['gw1'] })
      .thenRejects('NOT_READY');
  });

  it('the leader is recorded when it changes, only over started gateways', () => {
    const set = (leader: string): GatewaysCommand => ({ type: 'SetGatewayLeader', leader, gatewayIds: ['gw1', 'gw2'] });
    spec
      .given([gwStarted('gw1'), gwStarted('gw2')])
      .when(set('node1'))
      .then([leaderSet('node1')]);
    spec
      .given([gwStarted('gw1'), gwStarted('gw2'), leaderSet('node1')])
      .when(set('node1'))
      .then([]);
    spec
      .given([gwStarted('gw1'), gwStarted('gw2'), leaderSet('node1')])
      .when(set('node2'))
      .then([leaderSet('node2')]);
    spec
      .given([gwStarted('gw1')])
      .when(set('node1'))
      .thenRejects('GATEWAY_NOT_STARTED', /gw2/);
  });

  it('removal is recorded once', () => {
    const remove: GatewaysCommand = { type: 'RemoveGateways', gatewayIds: ['gw1', 'gw2'] };
    spec
      .given([gwStarted('gw1'), gwStarted('gw2')])
      .when(remove)
      .then([removed]);
    spec
      .given([gwStarted('gw1'), gwStarted('gw2'), removed])
      .when(remove)
      .then([]);
    spec.given([]).when(remove).then([removed]); // deleted before it was ever ready
  });
});

describe('gateway stream: TLS and external access', () => {
  it('ForceTls records TlsForced once; forcing twice records nothing', () => {
    spec
      .given([gwStarted('gw1')])
      .when({ type: 'ForceTls', nodes: ['node1', 'node2'] })
      .then([tlsForced]);
    spec
      .given([gwStarted('gw1'), tlsForced])
      .when({ type: 'ForceTls', nodes: ['node1', 'node2'] })
      .then([]);
  });

  it('RotateCertificates records every rotation; not on a deleted cluster', () => {
    const notAfter = '2030-01-01T00:00:00.000Z';
    const rotate: GatewaysCommand = { type: 'RotateCertificates', nodes: ['node1'], notAfter };
    spec
      .given([gwStarted('gw1'), tlsForced])
      .when(rotate)
      .then([{ type: 'CertificatesRotated', data: { nodes: ['node1'], notAfter } }]);
    spec
      .given([gwStarted('gw1'), removed])
      .when(rotate)
      .thenRejects('NOT_READY');
  });

  it("Expose: only once TLS is forced, on the gateways' port; again on the same address records nothing", () => {
    const expose: GatewaysCommand = { type: 'Expose', address: '10.0.0.1', clusterName: 'shop' };
    spec
      .given([])
      .when(expose)
      .thenRejects('NOT_READY', /no gateway/);
    spec
      .given([gwStarted('gw1')])
      .when(expose)
      .thenRejects('TLS_NOT_FORCED', /cluster shop can be exposed only once TLS is forced/);
    spec
      .given([gwStarted('gw1'), tlsForced])
      .when(expose)
      .then([exposed]);
    spec
      .given([gwStarted('gw1'), tlsForced, exposed])
      .when(expose)
      .then([]);
  });

  it('Unexpose: ClusterUnexposed while exposed, nothing otherwise; unknown cluster refused', () => {
    spec
      .given([gwStarted('gw1'), tlsForced, exposed])
      .when({ type: 'Unexpose' })
      .then([{ type: 'ClusterUnexposed', data: {} }]);
    spec
      .given([gwStarted('gw1'), tlsForced])
      .when({ type: 'Unexpose' })
      .then([]);
    spec.given([]).when({ type: 'Unexpose' }).thenRejects('CLUSTER_NOT_FOUND');
  });
});

describe('gateway stream: fencing and the read-only endpoint', () => {
  const both = ['gw1', 'gw2'];
  const fence = (nodeId: string, term?: number): GatewaysCommand => ({
    type: 'FenceNode',
    nodeId,
    gatewayIds: both,
    ...(term ? { term } : {}),
  });
  const fenced = (nodeId: string, term?: number): GatewayEvent => ({
    type: 'GatewayNodeFenced',
    data: { nodeId, ...(term ? { term } : {}), gatewayIds: both },
  });
  const unfenced = (nodeId: string): GatewayEvent => ({
    type: 'GatewayNodeUnfenced',
    data: { nodeId, gatewayIds: both },
  });
  const twoStarted = [gwStarted('gw1'), gwStarted('gw2'), leaderSet('node1')];

  it('a fence is recorded once, over started gateways; it clears the recorded leader', () => {
    spec
      .given(twoStarted)
      .when(fence('node1', 1))
      .then([fenced('node1', 1)]);
    spec
      .given([...twoStarted, fenced('node1', 1)])
      .when(fence('node1', 1))
      .then([]);
    spec
      .given([gwStarted('gw1')])
      .when(fence('node1', 1))
      .thenRejects('GATEWAY_NOT_STARTED', /gw2/);
    spec
      .given([...twoStarted, removed])
      .when(fence('node1'))
      .thenRejects('NOT_READY');
    const state = foldGateways([...twoStarted, fenced('node1', 1)]);
    expect(state.fenced).toEqual(['node1']);
    expect(state.leader).toBeUndefined();
  });

  it('a fenced node is never recorded as the leader; the new leader is', () => {
    const set = (leader: string): GatewaysCommand => ({ type: 'SetGatewayLeader', leader, gatewayIds: both });
    spec
      .given([...twoStarted, fenced('node1', 1)])
      .when(set('node1'))
      .thenRejects('NODE_FENCED', /node node1 is fenced/);
    spec
      .given([...twoStarted, fenced('node1', 1)])
      .when(set('node2'))
      .then([leaderSet('node2')]);
  });

  it('a rejoined node is unfenced once; a node never fenced records nothing', () => {
    const unfence: GatewaysCommand = { type: 'UnfenceNode', nodeId: 'node1', gatewayIds: both };
    spec
      .given([...twoStarted, fenced('node1', 1)])
      .when(unfence)
      .then([unfenced('node1')]);
    spec
      .given([...twoStarted, fenced('node1', 1), unfenced('node1')])
      .when(unfence)
      .then([]);
    spec.given(twoStarted).when(unfence).then([]);
    expect(foldGateways([...twoStarted, fenced('node1', 1), unfenced('node1')]).fenced).toEqual([]);
  });

  it('the read-only port is recorded with the gateway; gateways recorded before it get it at their next start', () => {
    const startRo = (gatewayId: string, readOnlyPort: number): GatewaysCommand => ({
      ...start(gatewayId),
      readOnlyPort,
    });
    const startedRo = (gatewayId: string, readOnlyPort: number): GatewayEvent => ({
      type: 'GatewayStarted',
      data: { gatewayId, host: '127.0.0.1', port: 7000, readOnlyPort },
    });
    spec
      .given([])
      .when(startRo('gw1', 7001))
      .then([startedRo('gw1', 7001)]);
    spec
      .given([startedRo('gw1', 7001)])
      .when(startRo('gw1', 7001))
      .then([]);
    // An older worker that does not know the read-only endpoint says less: nothing new to record.
    spec
      .given([startedRo('gw1', 7001)])
      .when(start('gw1'))
      .then([]);
    spec
      .given([gwStarted('gw1'), gwStarted('gw2')])
      .when(startRo('gw1', 7001))
      .then([startedRo('gw1', 7001)]);
    spec
      .given([gwStarted('gw1'), gwStarted('gw2'), startedRo('gw1', 7001)])
      .when(startRo('gw2', 7001))
      .then([startedRo('gw2', 7001)]);
    spec
      .given([startedRo('gw1', 7001)])
      .when(startRo('gw2', 7002))
      .thenRejects('ENTRY_POINT_RECORDED', /read-only endpoint of this cluster is on port 7001, not 7002/);
  });

  it('the read-only entry point: none in a stream recorded before it existed, then the recorded port', () => {
    const old = foldGateways([gwStarted('gw1'), gwStarted('gw2'), leaderSet('node1')]);
    expect(old.gateways).toEqual([
      { gatewayId: 'gw1', host: '127.0.0.1', port: 7000 },
      { gatewayId: 'gw2', host: '127.0.0.1', port: 7000 },
    ]);
    expect(readOnlyEntryPoint(old)).toBeUndefined();
    const upgraded = foldGateways([
      gwStarted('gw1'),
      gwStarted('gw2'),
      { type: 'GatewayStarted', data: { gatewayId: 'gw1', host: '127.0.0.1', port: 7000, readOnlyPort: 7001 } },
    ]);
    expect(readOnlyEntryPoint(upgraded)).toEqual({ host: '127.0.0.1', port: 7001 });
    expect(entryPoint(upgraded)).toEqual({ host: '127.0.0.1', port: 7000 });
  });
});
