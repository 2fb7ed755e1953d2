import { COMMANDS_SUBJECT_ROOT, EVENTS_STREAM, EVENTS_SUBJECT_ROOT, QUERIES_SUBJECT_ROOT } from '@pgfleet/contracts';

/**
 * Who may do what on the platform's NATS server: one user per process, each allowed only what
 * its code does. Events enter NATS only through the relay (the event store is the outbox), so
 * only `platform` (relay and API) publishes on `pgfleet.events.>`; a service answers only its own
 * command and query subjects, and pulls only from its own durable consumers; `cli` (`events tail`,
 * the CLI following an operation) only reads the events stream.
 *
 * Every user gets its own inbox prefix (`_INBOX_{user}`, see connectBus), so no user can
 * subscribe to the replies meant for another (a cluster URL, a JetStream delivery).
 */

/** What a service does on NATS besides answering `pgfleet.commands.{service}.>` and `pgfleet.queries.{service}.>`. */
export interface ServiceBusUse {
  /**
   * Its durable consumers on PGFLEET_EVENTS, as its main.ts declares them (the defaults of its
   * `PGFLEET_*_DURABLE` settings; runService warns when a consumer is missing here).
   */
  durables: readonly string[];
  /** The commands it sends itself (`service.Command`), e.g. a restore into a new cluster asks provisioning. */
  sends: readonly string[];
}

/** One row per service, found where each service makes its subscriptions (main.ts, kit's operations consumer). */
export const SERVICE_BUS_USE = {
  provisioning: { durables: ['provisioning', 'provisioning-operations'], sends: [] },
  networking: { durables: ['networking', 'networking-operations'], sends: [] },
  ha: { durables: ['ha-operations'], sends: [] },
  backup: {
    durables: ['backup', 'backup-operations', 'backup-deleted', 'backup-plan'],
    sends: ['provisioning.CreateCluster'],
  },
  pitr: {
    durables: ['pitr', 'pitr-operations', 'pitr-pitr', 'pitr-schedule'],
    sends: ['provisioning.CreateCluster', 'pitr.RequestPitrBackup'],
  },
  billing: { durables: [], sends: [] },
  upgrade: { durables: ['upgrade-operations'], sends: ['pitr.RequestPitrBackup'] },
} as const satisfies Record<string, ServiceBusUse>;

/** The users of the platform's NATS server besides the services. */
export const PLATFORM_NATS_USERS = ['platform', 'cli'] as const;

export interface SubjectPermission {
  allow: readonly string[];
  deny?: readonly string[];
}

export interface NatsPermissions {
  publish: SubjectPermission;
  subscribe: SubjectPermission;
  /** May answer the requests it receives (commands, queries) without a publish permission on `_INBOX_*`. */
  allowResponses: boolean;
}

/** The inbox prefix of a user's connection: its replies and JetStream deliveries arrive under it. */
export const natsInboxPrefix = (user: string): string => `_INBOX_${user}`;

const JS = '$JS.API';
/** What every JetStream client asks first: the account's JetStream info and the events stream's info. */
const JS_BASICS = [`${JS}.INFO`, `${JS}.STREAM.INFO.${EVENTS_STREAM}`];

/** Create, look up, pull from and acknowledge one durable consumer of the events stream. */
function durableConsumer(durable: string): string[] {
  return [
    // nats.js puts the filter subject in the create subject (`...CREATE.{stream}.{name}.{filter}`).
    `${JS}.CONSUMER.CREATE.${EVENTS_STREAM}.${durable}`,
    `${JS}.CONSUMER.CREATE.${EVENTS_STREAM}.${durable}.>`,
    // The subject used for several filter subjects (nats-server 2.10).
    `${JS}.CONSUMER.DURABLE.CREATE.${EVENTS_STREAM}.${durable}`,
    `${JS}.CONSUMER.INFO.${EVENTS_STREAM}.${durable}`,
    `${JS}.CONSUMER.MSG.NEXT.${EVENTS_STREAM}.${durable}`,
    // ack, nak, term and in-progress go to the message's `$JS.ACK.{stream}.{consumer}...` reply subject.
    `$JS.ACK.${EVENTS_STREAM}.${durable}.>`,
  ];
}

const allDurables = (): string[] => Object.values(SERVICE_BUS_USE).flatMap((s) => [...s.durables]);

/**
 * Read the events stream with ephemeral ordered consumers (nats.js names them `oc_{nuid}_{n}` and
 * recreates them after a gap), never touching a service's durable: a reader that pulled from one
 * would take that service's events away from it.
 */
function eventsReader(): SubjectPermission {
  return {
    allow: [
      ...JS_BASICS,
      `${JS}.CONSUMER.CREATE.${EVENTS_STREAM}.*.${EVENTS_SUBJECT_ROOT}.>`,
      `${JS}.CONSUMER.INFO.${EVENTS_STREAM}.*`,
      `${JS}.CONSUMER.DELETE.${EVENTS_STREAM}.*`,
      `${JS}.CONSUMER.MSG.NEXT.${EVENTS_STREAM}.*`,
      // Every consumer's state at once (how far behind each service is), read-only.
      `${JS}.CONSUMER.LIST.${EVENTS_STREAM}`,
      `${JS}.CONSUMER.NAMES.${EVENTS_STREAM}`,
    ],
    deny: allDurables().flatMap((d) => [
      `${JS}.CONSUMER.*.${EVENTS_STREAM}.${d}`,
      `${JS}.CONSUMER.*.${EVENTS_STREAM}.${d}.>`,
      `${JS}.CONSUMER.MSG.NEXT.${EVENTS_STREAM}.${d}`,
    ]),
  };
}

export type PlatformNatsUser = (typeof PLATFORM_NATS_USERS)[number] | keyof typeof SERVICE_BUS_USE;

/** Every user the platform's NATS server knows. */
export const natsUsers = (): PlatformNatsUser[] => [
  ...PLATFORM_NATS_USERS,
  ...(Object.keys(SERVICE_BUS_USE) as (keyof typeof SERVICE_BUS_USE)[]),
];

/** The permissions of one user of the platform's NATS server (an unknown user is a bug). */
export function natsPermissions(user: string): NatsPermissions {
  const inbox = [`${natsInboxPrefix(user)}.>`];
  if (user === 'cli') {
    return { publish: eventsReader(), subscribe: { allow: inbox }, allowResponses: false };
  }
  if (user === 'platform') {
    // The relay creates the events stream and publishes events; the API sends commands and queries
    // and follows events like the CLI.
    const reader = eventsReader();
    const allow = [
      ...reader.allow,
      `${JS}.STREAM.CREATE.${EVENTS_STREAM}`,
      `${JS}.STREAM.UPDATE.${EVENTS_STREAM}`,
      `${EVENTS_SUBJECT_ROOT}.>`,
      `${COMMANDS_SUBJECT_ROOT}.>`,
      `${QUERIES_SUBJECT_ROOT}.>`,
    ];
    return { publish: { allow, deny: reader.deny ?? [] }, subscribe: { allow: inbox }, allowResponses: false };
  }
  if (!Object.hasOwn(SERVICE_BUS_USE, user)) throw new Error(`no NATS permissions are defined for user "${user}"`);
  const use: ServiceBusUse = SERVICE_BUS_USE[user as keyof typeof SERVICE_BUS_USE];
  return {
    publish: {
      allow: [
        ...JS_BASICS,
        ...use.durables.flatMap(durableConsumer),
        ...use.sends.map((c) => `${COMMANDS_SUBJECT_ROOT}.${c}`),
      ],
    },
    subscribe: { allow: [...inbox, `${COMMANDS_SUBJECT_ROOT}.${user}.>`, `${QUERIES_SUBJECT_ROOT}.${user}.>`] },
    allowResponses: true,
  };
}

/** Whether a service's durable consumer is in the table above (a missing one is refused by the server). */
export function isPermittedDurable(service: string, durable: string): boolean {
  const use = (SERVICE_BUS_USE as Record<string, ServiceBusUse>)[service];
  return use?.durables.includes(durable) ?? false;
}
