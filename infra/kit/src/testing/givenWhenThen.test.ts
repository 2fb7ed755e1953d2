import { describe, expect, it } from 'vitest';
import { backupCounter, requested } from '../backupCounter.fixture.js';
import type { Decider } from '../decider.js';
import { deciderSpec } from './givenWhenThen.js';

const spec = deciderSpec(backupCounter);

describe('given/when/then for deciders', () => {
  it('passes when the command yields exactly the expected events', () => {
    const events = spec
      .given([requested('b1')])
      .when({ backupId: 'b2', clusterId: 'c1', max: 2 })
      .then([requested('b2')]);
    expect(events).toEqual([requested('b2')]);
    spec
      .given([requested('b1')])
      .when({ backupId: 'b1', clusterId: 'c1', max: 2 })
      .then([]);
  });

  it('passes when the command is rejected with the expected code and message', () => {
    const rejection = spec
      .given([requested('b1'), requested('b2')])
      .when({ backupId: 'b3', clusterId: 'c1', max: 2 })
      .thenRejects('QUOTA_EXCEEDED', /at most 2 backups/);
    expect(rejection.details).toEqual({ field: 'clusterId', limit: 2, used: 2 });
  });

  it('fails on other events, on an unexpected rejection and on an unexpected acceptance', () => {
    expect(() =>
      spec
        .given([])
        .when({ backupId: 'b1', clusterId: 'c1', max: 1 })
        .then([requested('other')]),
    ).toThrow();
    expect(() =>
      spec
        .given([requested('b1')])
        .when({ backupId: 'b2', clusterId: 'c1', max: 1 })
        .then([requested('b2')]),
    ).toThrow(/rejected: QUOTA_EXCEEDED/);
    expect(() =>
      spec.given([]).when({ backupId: 'b1', clusterId: 'c1', max: 1 }).thenRejects('QUOTA_EXCEEDED'),
    ).toThrow(/was accepted with \["BackupRequested"\]/);
    expect(() =>
      spec
        .given([requested('b1')])
        .when({ backupId: 'b2', clusterId: 'c1', max: 1 })
        .thenRejects('OTHER'),
    ).toThrow();
    expect(() =>
      spec
        .given([requested('b1')])
        .when({ backupId: 'b2', clusterId: 'c1', max: 1 })
        .thenRejects('QUOTA_EXCEEDED', 'wrong text'),
    ).toThrow();
  });

  it('folds the accepted events through evolve, so a crashing evolve fails the test', () => {
    const broken: Decider<number, string, ReturnType<typeof requested>> = {
      initialState: 0,
      evolve: () => {
        throw new Error('evolve has no case for BackupRequested');
      },
      decide: (id) => ({ ok: true, events: [requested(id)] }),
    };
    expect(() =>
      deciderSpec(broken)
        .given([])
        .when('b1')
        .then([requested('b1')]),
    ).toThrow(/no case/);
  });

  it('checks the state folded from the given and the decided events, as a value or with a function', () => {
    const events = spec
      .given([requested('b1')])
      .when({ backupId: 'b2', clusterId: 'c1', max: 2 })
      .then([requested('b2')], { count: 2, ids: ['b1', 'b2'] });
    expect(events).toEqual([requested('b2')]);
    spec
      .given([requested('b1')])
      .when({ backupId: 'b1', clusterId: 'c1', max: 2 })
      .then([], (state) => expect(state.ids).toEqual(['b1']));
  });

  it('fails on a wrong evolve that decide alone does not reveal, when the expected state is given', () => {
    // evolve counts the request but forgets its id: decide still yields the right events.
    const forgetful: typeof backupCounter = { ...backupCounter, evolve: (s) => ({ count: s.count + 1, ids: s.ids }) };
    const when = deciderSpec(forgetful)
      .given([requested('b1')])
      .when({ backupId: 'b2', clusterId: 'c1', max: 5 });
    expect(when.then([requested('b2')])).toEqual([requested('b2')]);
    expect(() => when.then([requested('b2')], { count: 2, ids: ['b1', 'b2'] })).toThrow(/state folded from the given/);
    expect(() => when.then([requested('b2')], (state) => expect(state.ids).toContain('b2'))).toThrow();
  });
});
