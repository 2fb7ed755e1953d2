import { describe, expect, it } from 'vitest';
import { foldClusterView, type ClusterEvent } from '@pgfleet/contracts';
import { deciderSpec } from '@pgfleet/kit/testing';
import { clusterDecider } from './cluster.js';

const spec = deciderSpec(clusterDecider);

const starter = (): ClusterEvent[] => [
  {
    type: 'ClusterRequested',
    data: {
      clusterId: 'c',
      name: 'shop',
      accountId: 'a',
      plan: 'starter-512',
      version: 15,
      secretRef: 'r',
      nodes: [{ nodeId: 'node1', role: 'leader' }],
    },
  },
  { type: 'NodeProvisioned', data: { nodeId: 'node1', role: 'leader', port: 5001 } },
  { type: 'NodeStarted', data: { nodeId: 'node1', port: 5001 } },
  { type: 'ClusterReady', data: { leader: 'node1', host: '127.0.0.1', port: 1, database: 'app', user: 'app' } },
];
const enable = (extension: string, operationId = 'op1') =>
  ({ type: 'EnableExtension', operationId, extension }) as const;
const disable = (extension: string, operationId = 'op2') =>
  ({ type: 'DisableExtension', operationId, extension }) as const;
const requested = (operationId: string, kind: 'extension-enable' | 'extension-disable', params: object) =>
  ({ type: 'OperationRequested', data: { operationId, kind, params } }) as ClusterEvent;
const enabled = (extension: string, version: string): ClusterEvent => ({
  type: 'ExtensionEnabled',
  data: { extension, version },
});
const preload = (old: string | null, next: string | null): ClusterEvent => ({
  type: 'ClusterParametersChanged',
  data: { changes: [{ name: 'shared_preload_libraries', old, new: next }] },
});
const succeeded = (operationId: string): ClusterEvent => ({ type: 'OperationSucceeded', data: { operationId } });

describe('extension enable, given/when/then', () => {
  it('given a ready cluster, when pgcrypto is enabled, then an operation naming it and nothing to preload', () => {
    spec
      .given(starter())
      .when(enable('pgcrypto'))
      .then([requested('op1', 'extension-enable', { extension: 'pgcrypto', changes: [] })]);
  });

  it('when pg_stat_statements is enabled, then shared_preload_libraries gets it in the same append', () => {
    const changes = [{ name: 'shared_preload_libraries', old: null, new: 'pg_stat_statements' }];
    spec
      .given(starter())
      .when(enable('pg_stat_statements'))
      .then([
        requested('op1', 'extension-enable', { extension: 'pg_stat_statements', changes }),
        { type: 'ClusterParametersChanged', data: { changes } },
      ]);
  });

  it('refuses an extension off the allow-list in one sentence naming the list, nothing recorded', () => {
    spec
      .given(starter())
      .when(enable('plpython3u'))
      .thenRejects('EXTENSION_NOT_ALLOWED', /^plpython3u is not an extension you may enable; the extensions you may/);
    spec
      .given(starter())
      .when(enable('adminpack'))
      .thenRejects('EXTENSION_NOT_ALLOWED', /pg_stat_statements, pgcrypto, citext/);
  });

  it('refuses a second enable of an enabled extension (EXTENSION_ALREADY_ENABLED naming its version)', () => {
    spec
      .given([
        ...starter(),
        requested('op1', 'extension-enable', { extension: 'citext' }),
        enabled('citext', '1.6'),
        succeeded('op1'),
      ])
      .when(enable('citext', 'op3'))
      .thenRejects('EXTENSION_ALREADY_ENABLED', /^citext is already enabled on cluster shop \(version 1\.6\)/);
  });

  it('the same request again (same operation id) records nothing more; another operation running is refused', () => {
    const started = [...starter(), requested('op1', 'extension-enable', { extension: 'pgcrypto', changes: [] })];
    spec.given(started).when(enable('pgcrypto')).then([]);
    spec.given(started).when(enable('citext', 'op9')).thenRejects('OPERATION_IN_PROGRESS');
  });

  it('its outcome records ExtensionEnabled once, only while its operation runs', () => {
    const started = [...starter(), requested('op1', 'extension-enable', { extension: 'pgcrypto', changes: [] })];
    const outcome = { type: 'RecordExtensionEnabled', extension: 'pgcrypto', version: '1.3' } as const;
    spec
      .given(started)
      .when(outcome)
      .then([enabled('pgcrypto', '1.3')]);
    spec
      .given([...started, enabled('pgcrypto', '1.3')])
      .when(outcome)
      .then([]);
    spec
      .given(starter())
      .when(outcome)
      .thenRejects('CONFLICT', /no extension-enable of pgcrypto in progress/);
  });
});

describe('extension disable, given/when/then', () => {
  const withStatements = (): ClusterEvent[] => [
    ...starter(),
    requested('op1', 'extension-enable', { extension: 'pg_stat_statements' }),
    preload(null, 'pg_stat_statements'),
    enabled('pg_stat_statements', '1.10'),
    succeeded('op1'),
  ];

  it('refuses an extension that is not enabled (EXTENSION_NOT_ENABLED), and one off the allow-list', () => {
    spec
      .given(starter())
      .when(disable('citext'))
      .thenRejects('EXTENSION_NOT_ENABLED', /^citext is not enabled on cluster shop: nothing to disable$/);
    spec.given(starter()).when(disable('plpgsql')).thenRejects('EXTENSION_NOT_ALLOWED');
  });

  it('given pg_stat_statements enabled, its outcome unloads the library in the append of ExtensionDisabled', () => {
    const started = [...withStatements(), requested('op2', 'extension-disable', { extension: 'pg_stat_statements' })];
    spec
      .given(withStatements())
      .when(disable('pg_stat_statements'))
      .then([requested('op2', 'extension-disable', { extension: 'pg_stat_statements' })]);
    spec
      .given(started)
      .when({ type: 'RecordExtensionDisabled', extension: 'pg_stat_statements' })
      .then([
        { type: 'ExtensionDisabled', data: { extension: 'pg_stat_statements' } },
        preload('pg_stat_statements', null),
      ]);
  });
});

describe('the cluster view of extensions', () => {
  it('folds the enabled set, drops a disabled one, and moves versions to the new major on a major upgrade', () => {
    const upgraded: ClusterEvent = {
      type: 'ClusterUpgraded',
      data: { fromVersion: 13, toVersion: 15, at: '2026-01-01T00:00:00Z', operationId: 'up1' },
    };
    const view = foldClusterView([
      ...starter(),
      enabled('pg_trgm', '1.5'),
      enabled('citext', '1.6'),
      { type: 'ExtensionDisabled', data: { extension: 'citext' } },
    ]);
    expect(view.extensions).toEqual({ pg_trgm: '1.5' });
    expect(foldClusterView([...starter(), enabled('pg_trgm', '1.5'), upgraded]).extensions).toEqual({ pg_trgm: '1.6' });
  });
});
