import { z } from 'zod';
import { COMMANDS, CommandMeta, CommandReply, type ServiceName } from './commands/index.js';
import { EnvelopeMeta } from './envelope.js';
import { categoriesOf, EVENTS, EVENT_TYPES, type EventType } from './events/index.js';

/** A JSON Schema document, as plain JSON. */
export type JsonSchema = Record<string, unknown>;

/**
 * `draft-2020-12` for standalone files; `draft-7` for embedding in AsyncAPI (its schema format
 * is a draft-07 superset).
 */
export type JsonSchemaTarget = 'draft-2020-12' | 'draft-7';

export interface JsonSchemaOptions {
  target?: JsonSchemaTarget;
  /** Base for `$id` (e.g. `https://pgfleet.dev/schemas/`); omitted when not given. */
  idBase?: string;
}

/** The zod schema of a whole envelope of one event type: metadata, `type` = that type, `data` = its schema. */
export function eventEnvelopeSchema<T extends EventType>(type: T) {
  return EnvelopeMeta.extend({ type: z.literal(type), data: EVENTS[type].schema });
}

/** The name an event's schema goes by (file name without `.json`, AsyncAPI component key). */
export function eventSchemaName(type: EventType): string {
  return `event.${type}`;
}

/** The name a command's schema goes by (file name without `.json`, AsyncAPI component key). */
export function commandSchemaName(service: string, command: string): string {
  return `command.${service}.${command}`;
}

export const COMMAND_REPLY_SCHEMA_NAME = 'CommandReply';
export const COMMAND_META_SCHEMA_NAME = 'CommandMeta';

/** Every (service, command) pair of the registry, in declaration order. */
export function commandEntries(): { service: ServiceName; command: string; schema: z.ZodType }[] {
  const out: { service: ServiceName; command: string; schema: z.ZodType }[] = [];
  for (const service of Object.keys(COMMANDS) as ServiceName[]) {
    for (const [command, schema] of Object.entries(COMMANDS[service] as Record<string, z.ZodType>)) {
      out.push({ service, command, schema });
    }
  }
  return out;
}

/**
 * JSON Schema of a zod schema as a sender must write it (`io: 'input'`: fields with defaults are
 * optional). Titled, with an `$id` when `idBase` is given.
 */
export function toJsonSchema(schema: z.ZodType, name: string, options: JsonSchemaOptions = {}): JsonSchema {
  const json = z.toJSONSchema(schema, { target: options.target ?? 'draft-2020-12', io: 'input' }) as JsonSchema;
  const { $schema, ...rest } = json;
  return {
    ...($schema === undefined ? {} : { $schema }),
    ...(options.idBase ? { $id: `${options.idBase}${name}.json` } : {}),
    title: name,
    ...rest,
  };
}

/** JSON Schema of the full envelope of one event type. */
export function eventJsonSchema(type: EventType, options: JsonSchemaOptions = {}): JsonSchema {
  const schema = toJsonSchema(eventEnvelopeSchema(type), eventSchemaName(type), options);
  return {
    ...schema,
    description:
      `The ${type} event (stream category ${categoriesOf(type)
        .map((c) => `"${c}"`)
        .join(' or ')}, ` + `schema version ${EVENTS[type].schemaVersion}).`,
  };
}

/** JSON Schema of one command's payload. */
export function commandJsonSchema(service: ServiceName, command: string, options: JsonSchemaOptions = {}): JsonSchema {
  const schema = (COMMANDS[service] as Record<string, z.ZodType>)[command];
  if (!schema) throw new Error(`unknown command ${service}.${command}`);
  return {
    ...toJsonSchema(schema, commandSchemaName(service, command), options),
    description: `The ${command} command, accepted by the ${service} service.`,
  };
}

/**
 * Every JSON Schema of the contracts, keyed by name: one per event type (envelope), one per
 * command, the command reply and the command metadata.
 */
export function allJsonSchemas(options: JsonSchemaOptions = {}): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const type of EVENT_TYPES) out[eventSchemaName(type)] = eventJsonSchema(type, options);
  for (const { service, command } of commandEntries())
    out[commandSchemaName(service, command)] = commandJsonSchema(service, command, options);
  out[COMMAND_REPLY_SCHEMA_NAME] = toJsonSchema(CommandReply, COMMAND_REPLY_SCHEMA_NAME, options);
  out[COMMAND_META_SCHEMA_NAME] = toJsonSchema(CommandMeta, COMMAND_META_SCHEMA_NAME, options);
  return out;
}
