import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { platformNatsUser, renderNatsConfig } from '@pgfleet/bus';
import { clusterCaFiles, createClusterCa, generatePassword, issueNodeCert, openSecretStore } from '@pgfleet/postgres';

export interface SecuredNats {
  configFile: string;
  caFile: string;
  /** Password of a NATS user (a service, `platform`, `cli`), from the secret store. */
  password(user: string): Promise<string>;
}

const natsCaDir = (home: string) => join(home, 'tls', 'nats', 'ca');
export const natsCaFile = (home: string) => clusterCaFiles(natsCaDir(home)).certFile;

/**
 * The embedded NATS server, closed (the default of `pgfleet up`): it speaks only TLS (a platform
 * CA under `$PGFLEET_HOME/tls/nats`) and knows one user per process, each with generated
 * credentials kept in the secret store and the publish and subscribe permissions of its role
 * (natsPermissions in infra/bus).
 */
export async function secureNats(home: string, port: number, users: readonly string[]): Promise<SecuredNats> {
  const dir = join(home, 'tls', 'nats');
  const ca = await createClusterCa(natsCaDir(home), 'pgfleet-nats');
  const serverDir = join(dir, 'server');
  const certFile = join(serverDir, 'server.crt');
  const keyFile = join(serverDir, 'server.key');
  if (!existsSync(certFile)) {
    await issueNodeCert({
      caDir: natsCaDir(home),
      outDir: serverDir,
      commonName: 'nats',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
  }
  const secrets = openSecretStore(home);
  const password = async (user: string) => {
    const ref = `nats/${user}`;
    const known = await secrets.get(ref);
    if (known) return known;
    const fresh = generatePassword();
    await secrets.put(ref, fresh);
    return fresh;
  };
  const entries = await Promise.all(users.map(async (user) => platformNatsUser(user, await password(user))));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const configFile = join(dir, 'nats.conf');
  const config = renderNatsConfig({
    host: '127.0.0.1',
    port,
    storeDir: join(home, 'nats'),
    tls: { certFile, keyFile },
    users: entries,
  });
  writeFileSync(configFile, config, { mode: 0o600 });
  return { configFile, caFile: ca.certFile, password };
}
