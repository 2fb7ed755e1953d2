import { describe, expect, it } from 'vitest';
import { commandSubject, eventFilter, eventSubject, streamCategory, streamIds } from './subjects.js';

describe('NATS subjects', () => {
  it('an event subject is pgfleet.events.{category}.{streamId}.{Type}', () => {
    expect(eventSubject('backups-c1', 'BackupRequested')).toBe('pgfleet.events.backups.backups-c1.BackupRequested');
    expect(eventSubject(streamIds.cluster('abc'), 'ClusterReady')).toBe(
      'pgfleet.events.cluster.cluster-abc.ClusterReady',
    );
  });

  it('the category is the part of the stream id before the first dash', () => {
    expect(streamCategory('account-acme-corp')).toBe('account');
    expect(() => streamCategory('nocategory')).toThrow(/no category/);
    expect(() => streamCategory('-x')).toThrow(/no category/);
  });

  it('a command subject is pgfleet.commands.{service}.{Command}', () => {
    expect(commandSubject('backup', 'RequestBackup')).toBe('pgfleet.commands.backup.RequestBackup');
  });

  it('event filters leave omitted tokens as wildcards', () => {
    expect(eventFilter()).toBe('pgfleet.events.>');
    expect(eventFilter({ category: 'backups' })).toBe('pgfleet.events.backups.*.*');
    expect(eventFilter({ streamId: 'cluster-c1' })).toBe('pgfleet.events.cluster.cluster-c1.*');
    expect(eventFilter({ type: 'QuotaExceeded' })).toBe('pgfleet.events.*.*.QuotaExceeded');
    expect(eventFilter({ category: 'backups', type: 'BackupEvicted' })).toBe('pgfleet.events.backups.*.BackupEvicted');
  });

  it('stream ids follow {category}-{id} for every category', () => {
    expect(Object.keys(streamIds)).toEqual(
      expect.arrayContaining(['cluster', 'backups', 'pitr', 'upgrade', 'gateway', 'account']),
    );
    for (const [category, make] of Object.entries(streamIds)) {
      expect(make('x1')).toBe(`${category}-x1`);
      expect(streamCategory(make('x1'))).toBe(category);
    }
  });
});
