import { describe, expect, it } from 'vitest';
import { foldClusterView, type DomainEvent } from '@pgfleet/contracts';
import { deciderSpec } from '@pgfleet/kit/testing';
import { decideRenewal } from './certRenewal.js';
import { gatewaysDecider, type GatewayEvent, type GatewaysCommand } from './gateways.js';

const DAY = 86_400_000;
const now = new Date('2026-11-30T12:00:00Z');
const inDays = (days: number) => new Date(now.getTime() + days * DAY).toISOString();

const history: DomainEvent[] = [
  {
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
  },
  { type: 'NodeProvisioned', data: { nodeId: 'node1', role: 'leader', port: 5001 } },
  { type: 'NodeProvisioned', data: { nodeId: 'node2', role: 'follower', port: 5002 } },
];
const ready: DomainEvent = {
  type: 'ClusterReady',
  data: { leader: 'node1', host: '127.0.0.1', port: 5001, database: 'app', user: 'app' },
};
const requested = (operationId: string): DomainEvent => ({
  type: 'OperationRequested',
  data: { operationId, kind: 'certs-rotate', params: { nodes: ['node1'] } },
});
const failed = (operationId: string): DomainEvent => ({
  type: 'OperationFailed',
  data: { operationId, step: 'issue:node1', reason: 'node node1 is stopped' },
});

const certs = [
  { nodeId: 'node1', notAfter: inDays(1) },
  { nodeId: 'node2', notAfter: inDays(200) },
];
const firstAttempt = `op-cert-renewal-${Math.floor(Date.parse(inDays(1)) / 1000)}-1`;
const RENEW_BEFORE = 30 * DAY;

describe('certificate renewal, given/when/then', () => {
  it('renews only the certificates ending within the renewal window, as a certs-rotate operation', () => {
    expect(decideRenewal(foldClusterView([...history, ready]), certs, now, RENEW_BEFORE)).toEqual({
      expiring: [],
      renew: { operationId: firstAttempt, nodes: ['node1'] },
    });
  });

  it('nothing when no certificate is due, nor on a cluster that is not ready', () => {
    expect(decideRenewal(foldClusterView([...history, ready]), certs.slice(1), now, RENEW_BEFORE)).toEqual({
      expiring: [],
    });
    expect(decideRenewal(foldClusterView(history), certs, now, RENEW_BEFORE)).toEqual({ expiring: [] });
  });

  it('waits while its renewal runs: the same certificates name the same operation', () => {
    const cluster = foldClusterView([...history, ready, requested(firstAttempt)]);
    expect(decideRenewal(cluster, certs, now, RENEW_BEFORE)).toEqual({ expiring: [], running: firstAttempt });
  });

  it('a failed renewal: CertificateExpiring for the node with the step and reason, and a second attempt', () => {
    const cluster = foldClusterView([...history, ready, requested(firstAttempt), failed(firstAttempt)]);
    expect(decideRenewal(cluster, certs, now, RENEW_BEFORE)).toEqual({
      expiring: [
        {
          nodeId: 'node1',
          notAfter: inDays(1),
          reason: `renewal ${firstAttempt} failed at issue:node1: node node1 is stopped`,
        },
      ],
      renew: { operationId: firstAttempt.replace(/-1$/, '-2'), nodes: ['node1'] },
    });
  });

  it('an expired certificate is due too', () => {
    const expired = [{ nodeId: 'node2', notAfter: inDays(-1) }];
    expect(decideRenewal(foldClusterView([...history, ready]), expired, now, RENEW_BEFORE).renew?.nodes).toEqual([
      'node2',
    ]);
  });
});

describe('gateway stream: CertificateExpiring', () => {
  const spec = deciderSpec(gatewaysDecider);
  const reason = 'renewal op-cert-renewal-1-1 failed at issue:node1: node node1 is stopped';
  const warn: GatewaysCommand = {
    type: 'WarnCertificateExpiring',
    clusterId: 'c',
    nodeId: 'node1',
    notAfter: 'T',
    reason,
  };
  const expiring: GatewayEvent = {
    type: 'CertificateExpiring',
    data: { clusterId: 'c', nodeId: 'node1', notAfter: 'T', reason },
  };
  const rotated: GatewayEvent = { type: 'CertificatesRotated', data: { nodes: ['node1'], notAfter: 'U' } };

  it('recorded once per failed renewal; again after the node was renewed', () => {
    spec.given([]).when(warn).then([expiring]);
    spec.given([expiring]).when(warn).then([]);
    spec
      .given([expiring])
      .when({ ...warn, reason: 'another attempt failed' })
      .then([{ ...expiring, data: { ...expiring.data, reason: 'another attempt failed' } }]);
    spec.given([expiring, rotated]).when(warn).then([expiring]);
  });
});
