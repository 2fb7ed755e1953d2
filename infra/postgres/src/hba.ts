export interface HbaInput {
  /** The superuser trusted over the node's unix socket (the socket dir is private to the postgres OS user). */
  superuser?: string;
  /** The role allowed to stream WAL (pg_basebackup, followers). */
  replicationRole: string;
  /** Roles allowed over TCP with a password; default all roles. */
  roles?: readonly string[];
  /** Client addresses allowed over TCP; default 127.0.0.1/32. */
  addresses?: readonly string[];
  /** Only TLS connections over TCP (hostssl); plaintext TCP is rejected. */
  forceTls?: boolean;
}

const ident = (name: string) => (/^[A-Za-z0-9_-]+$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`);

/**
 * pg_hba.conf of a node: the superuser trusted on the unix socket, every other local role by
 * password, TCP by scram-sha-256 for applications and the replication role (TLS-only when forced).
 */
export function renderHba(input: HbaInput): string {
  const superuser = input.superuser ?? 'postgres';
  const addresses = input.addresses ?? ['127.0.0.1/32'];
  const roles = input.roles && input.roles.length > 0 ? input.roles.map(ident).join(',') : 'all';
  const host = input.forceTls ? 'hostssl' : 'host';
  const rows: string[][] = [
    ['# TYPE', 'DATABASE', 'USER', 'ADDRESS', 'METHOD'],
    ['local', 'all', ident(superuser), '', 'trust'],
    ['local', 'replication', ident(superuser), '', 'trust'],
    ['local', 'all', 'all', '', 'scram-sha-256'],
  ];
  for (const addr of addresses) {
    rows.push([host, 'all', roles, addr, 'scram-sha-256']);
    rows.push([host, 'replication', ident(input.replicationRole), addr, 'scram-sha-256']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const body = rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
  const forced = input.forceTls ? ' (TLS forced: plaintext TCP is rejected)' : '';
  return `# pg_hba.conf written by pgfleet${forced}\n${body}\n`;
}
