import { natsPermissions, type NatsPermissions } from './natsPermissions.js';

/**
 * The nats.conf of the embedded NATS server: every process connects over TLS with its own user
 * and may publish and subscribe only to what its role needs (see natsPermissions).
 */
export interface NatsUser {
  user: string;
  password: string;
  permissions: NatsPermissions;
}

export interface NatsConfigInput {
  host: string;
  port: number;
  storeDir: string;
  tls?: { certFile: string; keyFile: string; caFile?: string };
  users?: readonly NatsUser[];
}

/** A user of the platform's NATS server with the permissions of its role. */
export const platformNatsUser = (user: string, password: string): NatsUser => ({
  user,
  password,
  permissions: natsPermissions(user),
});

const q = (s: string) => JSON.stringify(s);
const list = (subjects: readonly string[]) => `[${subjects.map(q).join(', ')}]`;

function renderPermissions(p: NatsPermissions): string {
  const side = (s: NatsPermissions['publish']) =>
    `{ allow: ${list(s.allow)}${s.deny && s.deny.length > 0 ? `, deny: ${list(s.deny)}` : ''} }`;
  const responses = p.allowResponses ? ', allow_responses: true' : '';
  return `{ publish: ${side(p.publish)}, subscribe: ${side(p.subscribe)}${responses} }`;
}

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
        `    { user: ${q(u.user)}, password: ${q(u.password)}, permissions: ${renderPermissions(u.permissions)} }`,
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
