import { Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { asyncApiDocument, type AsyncApiDocument } from './asyncapi.js';
import { COMMANDS } from './commands/index.js';
import { categoriesOf, EVENTS, EVENT_TYPES } from './events/index.js';

/** Spectral's severities: 0 = error, 1 = warning, 2 = info, 3 = hint. */
const ERROR = 0;

async function errorsOf(doc: AsyncApiDocument): Promise<string[]> {
  const diagnostics = await new Parser().validate(doc);
  return diagnostics.filter((d) => d.severity === ERROR).map((d) => `${d.code}: ${d.message} at ${d.path.join('/')}`);
}

describe('AsyncAPI document', () => {
  const doc = asyncApiDocument({ version: '1.2.3' });

  it('is a valid AsyncAPI 3.0.0 document per @asyncapi/parser', async () => {
    expect(doc.asyncapi).toBe('3.0.0');
    expect(await errorsOf(doc)).toEqual([]);
  });

  it('the validator does catch a broken document (a dangling message reference)', async () => {
    const broken = structuredClone(doc);
    const operations = broken.operations as Record<string, { messages: { $ref: string }[] }>;
    operations.publishBackupRequested!.messages = [{ $ref: '#/channels/nope/messages/Nope' }];
    expect((await errorsOf(broken)).length).toBeGreaterThan(0);
  });

  it('has one channel per event type with a streamId parameter, sent by the platform', async () => {
    const { document } = await new Parser().parse(doc);
    expect(document).toBeDefined();
    for (const type of EVENT_TYPES) {
      const channel = document!.channels().get(`events.${EVENTS[type].category}.${type}`);
      expect(channel?.address()).toBe(`pgfleet.events.${EVENTS[type].category}.{streamId}.${type}`);
      expect(
        channel
          ?.parameters()
          .all()
          .map((p) => p.id()),
      ).toEqual(['streamId']);
      const op = document!.operations().get(`publish${type}`);
      expect(op?.action()).toBe('send');
      expect(
        op
          ?.messages()
          .all()
          .map((m) => m.name()),
      ).toEqual([type]);
    }
  });

  it('the disk QuotaExceeded has a channel on disk- streams besides the backup quotas on backups-', async () => {
    const { document } = await new Parser().parse(doc);
    expect(document!.channels().get('events.backups.QuotaExceeded')?.address()).toBe(
      'pgfleet.events.backups.{streamId}.QuotaExceeded',
    );
    expect(document!.channels().get('events.disk.QuotaExceeded')?.address()).toBe(
      'pgfleet.events.disk.{streamId}.QuotaExceeded',
    );
    expect(document!.operations().get('publishQuotaExceededOnDisk')?.action()).toBe('send');
  });

  it('has one request/reply operation per command, replying with CommandReply', async () => {
    const { document } = await new Parser().parse(doc);
    const pairs = Object.entries(COMMANDS).flatMap(([service, cmds]) =>
      Object.keys(cmds).map((command) => [service, command] as const),
    );
    expect(pairs.length).toBeGreaterThan(0);
    for (const [service, command] of pairs) {
      const channel = document!.channels().get(`commands.${service}.${command}`);
      expect(channel?.address()).toBe(`pgfleet.commands.${service}.${command}`);
      const op = document!.operations().get(`handle${command}`);
      expect(op?.action()).toBe('receive');
      expect(
        op
          ?.reply()
          ?.messages()
          .all()
          .map((m) => m.name()),
      ).toEqual(['CommandReply']);
    }
    // A type recorded in two stream categories (QuotaExceeded: backups-, disk-) has a channel and an operation in each.
    const eventChannels = EVENT_TYPES.flatMap((type) => categoriesOf(type)).length;
    expect(document!.operations().length).toBe(eventChannels + pairs.length);
  });
});
