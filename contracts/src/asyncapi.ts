import { categoriesOf, EVENTS, EVENT_TYPES } from './events/index.js';
import {
  COMMAND_REPLY_SCHEMA_NAME,
  commandEntries,
  commandJsonSchema,
  commandSchemaName,
  eventJsonSchema,
  eventSchemaName,
  toJsonSchema,
  type JsonSchema,
} from './jsonSchema.js';
import { CommandReply } from './commands/index.js';
import { COMMANDS_SUBJECT_ROOT, EVENTS_STREAM, EVENTS_SUBJECT_ROOT } from './subjects.js';

export interface AsyncApiOptions {
  /** The contracts' version (`info.version`). */
  version?: string;
  /** NATS server URL for `servers.nats` (documentation only). */
  natsUrl?: string;
}

/** An AsyncAPI 3.0.0 document, as plain JSON. */
export type AsyncApiDocument = Record<string, unknown> & { asyncapi: '3.0.0' };

const ref = ($ref: string) => ({ $ref });

/** A JSON Schema fit for `components.schemas`: draft-07 flavoured, without `$schema`/`$id`. */
function embedded(schema: JsonSchema): JsonSchema {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

/**
 * The AsyncAPI 3.0.0 document of pgfleet's NATS surface, seen from the platform:
 * - one channel per event type, `pgfleet.events.{category}.{streamId}.{Type}`, which the
 *   platform sends (through the relay, into the JetStream stream PGFLEET_EVENTS);
 * - one channel per command, `pgfleet.commands.{service}.{Command}`, which the platform
 *   receives as a request and answers with a CommandReply on the requester's inbox.
 */
export function asyncApiDocument(options: AsyncApiOptions = {}): AsyncApiDocument {
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};

  for (const type of EVENT_TYPES) {
    const name = eventSchemaName(type);
    schemas[name] = embedded(eventJsonSchema(type, { target: 'draft-7' }));
    messages[name] = {
      name: type,
      title: type,
      summary: `${type} event of a ${categoriesOf(type).join(' or ')} stream.`,
      contentType: 'application/json',
      headers: {
        type: 'object',
        properties: {
          'Nats-Msg-Id': { type: 'string', description: 'The event id: JetStream drops a duplicate publish.' },
        },
      },
      payload: ref(`#/components/schemas/${name}`),
    };
    // One channel (and publish operation) per stream category the type is recorded in: the
    // first is `publish{Type}`, a further one `publish{Type}On{Category}` (QuotaExceeded on disk-).
    for (const category of categoriesOf(type)) {
      const suffix = category === EVENTS[type].category ? '' : `On${category[0]?.toUpperCase()}${category.slice(1)}`;
      addEventChannel(type, category, name, suffix, channels, operations);
    }
  }

  schemas[COMMAND_REPLY_SCHEMA_NAME] = embedded(
    toJsonSchema(CommandReply, COMMAND_REPLY_SCHEMA_NAME, { target: 'draft-7' }),
  );
  messages[COMMAND_REPLY_SCHEMA_NAME] = {
    name: COMMAND_REPLY_SCHEMA_NAME,
    title: 'Command reply',
    summary: 'Accepted (stream id and version) or rejected (code, message, details with the field).',
    contentType: 'application/json',
    payload: ref(`#/components/schemas/${COMMAND_REPLY_SCHEMA_NAME}`),
  };

  for (const { service, command } of commandEntries()) {
    const name = commandSchemaName(service, command);
    schemas[name] = embedded(commandJsonSchema(service, command, { target: 'draft-7' }));
    messages[name] = {
      name: command,
      title: command,
      summary: `${command} command for the ${service} service.`,
      contentType: 'application/json',
      payload: ref(`#/components/schemas/${name}`),
    };
    const channelId = `commands.${service}.${command}`;
    const replyId = `${channelId}.reply`;
    channels[channelId] = {
      address: `${COMMANDS_SUBJECT_ROOT}.${service}.${command}`,
      title: `${command} requests`,
      messages: { [command]: ref(`#/components/messages/${name}`) },
    };
    channels[replyId] = {
      address: null,
      title: `${command} replies`,
      description: "The requester's reply inbox (dynamic).",
      messages: { [COMMAND_REPLY_SCHEMA_NAME]: ref(`#/components/messages/${COMMAND_REPLY_SCHEMA_NAME}`) },
    };
    operations[`handle${command}`] = {
      action: 'receive',
      title: `Handle ${command}`,
      summary: `The ${service} service decides on ${command} and replies with a CommandReply.`,
      channel: ref(`#/channels/${channelId}`),
      messages: [ref(`#/channels/${channelId}/messages/${command}`)],
      reply: {
        channel: ref(`#/channels/${replyId}`),
        messages: [ref(`#/channels/${replyId}/messages/${COMMAND_REPLY_SCHEMA_NAME}`)],
      },
    };
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'pgfleet',
      version: options.version ?? '0.1.0',
      description:
        'The NATS contracts of pgfleet, an event-sourced control plane for managed PostgreSQL: ' +
        'domain events and commands with request/reply.',
    },
    servers: {
      nats: {
        host: hostOf(options.natsUrl ?? 'nats://127.0.0.1:4222'),
        protocol: 'nats',
        description: 'The platform NATS server (JetStream enabled).',
      },
    },
    defaultContentType: 'application/json',
    channels,
    operations,
    components: { messages, schemas },
  };
}

function hostOf(url: string): string {
  const parsed = new URL(url);
  return parsed.host;
}

/** The channel `pgfleet.events.{category}.{streamId}.{Type}` of one event type and its publish operation. */
function addEventChannel(
  type: string,
  category: string,
  name: string,
  suffix: string,
  channels: Record<string, unknown>,
  operations: Record<string, unknown>,
): void {
  const channelId = `events.${category}.${type}`;
  channels[channelId] = {
    address: `${EVENTS_SUBJECT_ROOT}.${category}.{streamId}.${type}`,
    title: `${type} events`,
    description: `Every ${type} event, published in global order into the JetStream stream ${EVENTS_STREAM}.`,
    parameters: { streamId: { description: `The stream the event belongs to, "${category}-{id}".` } },
    messages: { [type]: ref(`#/components/messages/${name}`) },
  };
  operations[`publish${type}${suffix}`] = {
    action: 'send',
    title: `Publish ${type}${suffix ? ` on ${category} streams` : ''}`,
    summary: `The relay publishes each stored ${type} event once (Nats-Msg-Id = event id).`,
    channel: ref(`#/channels/${channelId}`),
    messages: [ref(`#/channels/${channelId}/messages/${type}`)],
  };
}
