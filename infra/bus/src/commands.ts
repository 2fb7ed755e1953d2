import {
  headers,
  NoRespondersError,
  RequestError,
  TimeoutError,
  type Msg,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import {
  CommandMeta,
  CommandReply,
  commandSchema,
  commandSubject,
  zodRejection,
  type CommandData,
  type CommandName,
  type ServiceName,
} from '@pgfleet/contracts';
import { errorFields, silentLogger, type BusLogger } from './logger.js';

export type CommandHandler<S extends ServiceName, C extends CommandName<S>> = (
  data: CommandData<S, C>,
  meta: CommandMeta,
) => Promise<CommandReply>;
export type CommandHandlers<S extends ServiceName> = { [C in CommandName<S>]?: CommandHandler<S, C> };

export interface ServeCommandsOptions {
  /** Queue group: replicas of a service share the requests (default `pgfleet-{service}`). */
  queue?: string;
  logger?: BusLogger;
  /**
   * Checked after validation, before the handler: a rejection ends the command there (e.g. a
   * command scoped to an account, `meta.account`, about another account's cluster).
   */
  authorize?: CommandAuthorizer;
}

/** A rejection for a command its caller may not send, or undefined to let it through. */
export type CommandAuthorizer = (
  command: string,
  data: Record<string, unknown>,
  meta: CommandMeta,
) => Promise<CommandReply | undefined>;

export interface CommandServer {
  /** Stop taking requests; resolves when the requests in hand are answered. */
  stop(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
type Schema = NonNullable<ReturnType<typeof commandSchema>>;

/**
 * Answer the commands of one service on `pgfleet.commands.{service}.{Command}`. Each request
 * body is `{ data, meta? }`; `data` is checked against the command's schema and `meta` against
 * CommandMeta before the handler runs. Bad input gets a field-level rejection and never reaches
 * the handler; a handler that throws gets an INTERNAL rejection.
 */
export function serveCommands<S extends ServiceName>(
  nc: NatsConnection,
  service: S,
  handlers: CommandHandlers<S>,
  opts: ServeCommandsOptions = {},
): CommandServer {
  const logger = opts.logger ?? silentLogger;
  const queue = opts.queue ?? `pgfleet-${service}`;
  const inFlight = new Set<Promise<void>>();
  const subs: Subscription[] = [];

  for (const command of Object.keys(handlers) as CommandName<S>[]) {
    const handler = handlers[command] as ((data: unknown, meta: CommandMeta) => Promise<CommandReply>) | undefined;
    const schema = commandSchema(service, command);
    if (!handler) continue;
    if (!schema) throw new Error(`${service} has no command ${command} in the contracts`);
    const subject = commandSubject(service, command);
    const sub = nc.subscribe(subject, {
      queue,
      callback: (error, msg) => {
        if (error) {
          logger.error({ service, command, ...errorFields(error) }, 'command subscription failed');
          return;
        }
        const task = answer(msg, command, schema, handler).finally(() => inFlight.delete(task));
        inFlight.add(task);
      },
    });
    subs.push(sub);
  }

  async function answer(
    msg: Msg,
    command: string,
    schema: Schema,
    handler: (data: unknown, meta: CommandMeta) => Promise<CommandReply>,
  ) {
    const reply = await decide(msg.data, command, schema, handler);
    if (!reply.ok) {
      const fields = { service, command, code: reply.code, field: reply.details?.field };
      const text = `command rejected: ${reply.message}`;
      if (reply.code === 'INTERNAL') logger.error(fields, text);
      else if (msg.headers?.get(PROBE_HEADER)) logger.debug?.(fields, text);
      else logger.info(fields, text);
    }
    if (msg.reply) msg.respond(encoder.encode(JSON.stringify(reply)));
  }

  async function decide(
    body: Uint8Array,
    command: string,
    schema: Schema,
    handler: (data: unknown, meta: CommandMeta) => Promise<CommandReply>,
  ): Promise<CommandReply> {
    const parsed = parseCommandBody(body, command, schema);
    if (!parsed.ok) return parsed.reply;
    try {
      const refused = await opts.authorize?.(command, parsed.data as Record<string, unknown>, parsed.meta);
      if (refused) return refused;
      const reply = CommandReply.safeParse(await handler(parsed.data, parsed.meta));
      if (reply.success) return reply.data;
      return { ok: false, code: 'INTERNAL', message: `${command} handler returned an invalid reply` };
    } catch (error) {
      logger.error(
        { service, command, correlationId: parsed.meta.correlationId, ...errorFields(error) },
        'command handler failed',
      );
      return {
        ok: false,
        code: 'INTERNAL',
        message: `${command} failed: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  }

  return {
    async stop() {
      await Promise.all(subs.map((s) => (nc.isClosed() ? undefined : s.drain())));
      await Promise.allSettled([...inFlight]);
    },
  };
}

type ParsedBody = { ok: true; data: unknown; meta: CommandMeta } | { ok: false; reply: CommandReply };

/** Decode and validate a command request body `{ data, meta? }`. */
export function parseCommandBody(body: Uint8Array, command: string, schema: Schema): ParsedBody {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(body));
  } catch (error) {
    return {
      ok: false,
      reply: {
        ok: false,
        code: 'MALFORMED_JSON',
        message: `${command} request is not valid JSON: ${(error as Error).message}`,
        details: { field: '(root)', rule: 'json' },
      },
    };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json) || !('data' in json)) {
    return {
      ok: false,
      reply: {
        ok: false,
        code: 'VALIDATION_FAILED',
        message: `invalid ${command} command: data: required (the body is { data, meta? })`,
        details: { field: 'data', rule: 'required' },
      },
    };
  }
  const data = schema.safeParse((json as { data: unknown }).data);
  if (!data.success) return { ok: false, reply: rejection(zodRejection(data.error, `${command} command`)) };
  // Absent meta is none; `meta: null` (or any non-object) is refused like any other bad meta.
  const meta = CommandMeta.safeParse('meta' in json ? json.meta : {});
  if (!meta.success) {
    const r = zodRejection(meta.error, `${command} command meta`);
    const field = `meta.${String(r.details?.field)}`.replace(/\.\(root\)$/, '');
    return { ok: false, reply: rejection({ ...r, details: { ...r.details, field } }) };
  }
  return { ok: true, data: data.data, meta: meta.data };
}

function rejection(r: { code: string; message: string; details?: Record<string, unknown> }): CommandReply {
  return { ok: false, code: r.code, message: r.message, ...(r.details ? { details: r.details } : {}) };
}

export interface SendCommandOptions {
  /** How long to wait for a reply (default 10000 ms). */
  timeoutMs?: number;
  /**
   * A readiness probe (`pgfleet up` waiting for its services): the service answers it as any other
   * command, but logs its rejection at debug level, not as a rejected command a reader looks into.
   */
  probe?: boolean;
}

/** The header a readiness probe's command carries. */
const PROBE_HEADER = 'Pgfleet-Probe';

/**
 * Send a command and wait for its reply. Transport failures come back as rejections too:
 * SERVICE_UNAVAILABLE (no replica listening), TIMEOUT (the command may still take effect;
 * send it again with the same `meta.commandId`), INVALID_REPLY.
 */
export async function sendCommand<S extends ServiceName, C extends CommandName<S>>(
  nc: NatsConnection,
  service: S,
  command: C,
  data: CommandData<S, C> | Record<string, unknown>,
  meta?: CommandMeta,
  opts: SendCommandOptions = {},
): Promise<CommandReply> {
  const subject = commandSubject(service, command);
  const timeout = opts.timeoutMs ?? 10_000;
  let msg: Msg;
  try {
    const probe = opts.probe ? headers() : undefined;
    probe?.set(PROBE_HEADER, '1');
    const payload = encoder.encode(JSON.stringify(meta ? { data, meta } : { data }));
    msg = await nc.request(subject, payload, { timeout, ...(probe ? { headers: probe } : {}) });
  } catch (error) {
    if (isNoResponders(error))
      return {
        ok: false,
        code: 'SERVICE_UNAVAILABLE',
        message: `no ${service} service is answering ${command} commands`,
        details: { subject },
      };
    if (isTimeout(error))
      return {
        ok: false,
        code: 'TIMEOUT',
        message: `${service} did not answer ${command} within ${timeout} ms; it may still be applied`,
        details: { subject },
      };
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(msg.data));
  } catch {
    return { ok: false, code: 'INVALID_REPLY', message: `${service} sent a reply to ${command} that is not JSON` };
  }
  const reply = CommandReply.safeParse(json);
  return reply.success
    ? reply.data
    : { ok: false, code: 'INVALID_REPLY', message: `${service} sent an invalid reply to ${command}` };
}

function isNoResponders(error: unknown): boolean {
  return error instanceof NoRespondersError || (error instanceof RequestError && error.isNoResponders());
}

function isTimeout(error: unknown): boolean {
  return error instanceof TimeoutError || (error instanceof Error && error.cause instanceof TimeoutError);
}
