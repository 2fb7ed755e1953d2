import { describe, expect, it } from 'vitest';
import { COMMANDS } from '@pgfleet/contracts';
import { natsPermissions, natsUsers, SERVICE_BUS_USE } from './natsPermissions.js';

describe('natsPermissions: least privilege per user', () => {
  it('has a row for every service that accepts commands, and no user may subscribe or publish to everything', () => {
    expect(Object.keys(SERVICE_BUS_USE).sort()).toEqual(Object.keys(COMMANDS).sort());
    for (const user of natsUsers()) {
      const p = natsPermissions(user);
      expect([...p.publish.allow, ...p.subscribe.allow]).not.toContain('>');
      expect(p.subscribe.allow).not.toContain('_INBOX.>');
    }
  });

  it('lets a service subscribe only to its own commands, queries and inbox, and publish no event', () => {
    const backup = natsPermissions('backup');
    expect(backup.subscribe.allow).toEqual([
      '_INBOX_backup.>',
      'pgfleet.commands.backup.>',
      'pgfleet.queries.backup.>',
    ]);
    expect(backup.publish.allow.filter((s) => s.startsWith('pgfleet.'))).toEqual([
      'pgfleet.commands.provisioning.CreateCluster',
    ]);
    expect(backup.publish.allow).toContain('$JS.API.CONSUMER.MSG.NEXT.PGFLEET_EVENTS.backup-deleted');
    expect(backup.publish.allow).toContain('$JS.ACK.PGFLEET_EVENTS.backup-deleted.>');
    expect(backup.publish.allow.some((s) => s.includes('PGFLEET_EVENTS.provisioning'))).toBe(false);
    expect(backup.allowResponses).toBe(true);
  });

  it('gives cli reads only: no command, no event, no service durable', () => {
    const cli = natsPermissions('cli');
    expect(cli.publish.allow.some((s) => s.startsWith('pgfleet.'))).toBe(false);
    expect(cli.publish.deny).toContain('$JS.API.CONSUMER.MSG.NEXT.PGFLEET_EVENTS.backup');
    expect(cli.subscribe.allow).toEqual(['_INBOX_cli.>']);
    expect(cli.allowResponses).toBe(false);
  });

  it('refuses a user it does not know', () => {
    expect(() => natsPermissions('stranger')).toThrow(/no NATS permissions.*stranger/);
  });
});
