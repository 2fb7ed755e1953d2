/**
 * The nats.conf of the embedded NATS server when the platform runs it with TLS and users:
 * every process connects over TLS with its own user, and may publish only what its role needs.
 * Events enter NATS only through the relay (the event store is the outbox), so only the
 * `platform` user (relay and API) may publish on `pgfleet.events.>`; a service that tries to
 * publish an event subject is refused by the server.
 */
export interface NatsUser {
  user: string;
  password: string;
  /** Subjects this user may publish to. */
  publish: readonly string[];
}

export interface NatsConfigInput {
  host: string;
  port: number;
  storeDir: string;
  tls?: { certFile: string; keyFile: string; caFile?: string };
  users?: readonly NatsUser[];
}

/** What every client needs: JetStream API and acks, flow control, request replies, commands and queries. */
export const CLIENT_PUBLISH = [
  '$JS.API.>',
  '$JS.ACK.>',
  '$JS.FC.>',
  '_INBOX.>',
  'pgfleet.commands.>',
  'pgfleet.queries.>',
] as const;

/** Publish permissions of a pgfleet principal: `platform` (relay + API) may also publish events. */
export function publishPermissions(user: string): string[] {
  return user === 'platform' ? ['pgfleet.events.>', ...CLIENT_PUBLISH] : [...CLIENT_PUBLISH];
}

const q = (s: string) => JSON.stringify(s);

export function renderNatsConfig(input: NatsConfigInput): string {
  const lines = [
    '# written by pgfleet',
    `listen: ${q(`${input.host}:${input.port}`)}`,
    `jetstream { store_dir: ${q(input.storeDir)} }`,
  ];
  if (input.tls) {
    lines.push('tls {', `  cert_file: ${q(input.tls.certFile)}`, `  key_file: ${q(input.tls.keyFile)}`);
    if (input.tls.caFile) lines.push(`  ca_file: ${q(input.tls.caFile)}`);
    lines.push('  timeout: 5', '}');
  }
  if (input.users && input.users.length > 0) {
    lines.push('authorization {', '  users = [');
    for (const u of input.users) {
      lines.push(
        `    { user: ${q(u.user)}, password: ${q(u.password)}, ` +
          `permissions: { publish: { allow: [${u.publish.map(q).join(', ')}] }, subscribe: { allow: [">"] } } }`,
      );
    }
    lines.push('  ]', '}');
  }
  return `${lines.join('\n')}\n`;
}

/** Connection options for a process of the platform, from its environment (set by `pgfleet up`). */
export function busAuthFromEnv(env: NodeJS.ProcessEnv = process.env): {
  tls?: { caFile: string };
  user?: string;
  pass?: string;
} {
  return {
    ...(env.PGFLEET_NATS_CA ? { tls: { caFile: env.PGFLEET_NATS_CA } } : {}),
    ...(env.PGFLEET_NATS_USER ? { user: env.PGFLEET_NATS_USER, pass: env.PGFLEET_NATS_PASSWORD ?? '' } : {}),
  };
}
