import { connectBus, sendCommand } from '@pgfleet/bus';
import { waitFor, type TestPlatform } from './harness.js';

/**
 * `up` returns once the service processes are spawned: wait until each service answers (an
 * empty command gets a validation rejection, not SERVICE_UNAVAILABLE).
 */
export async function waitForServices(t: TestPlatform): Promise<void> {
  const nc = await connectBus({ servers: t.platform.natsUrl, name: 'pgfleet-test-ready' });
  const answers = async (send: () => ReturnType<typeof sendCommand>) => {
    const reply = await send();
    return reply.ok || reply.code !== 'SERVICE_UNAVAILABLE';
  };
  try {
    await waitFor('the provisioning service', () => answers(() => sendCommand(nc, 'provisioning', 'CreateCluster', {}, undefined, { timeoutMs: 1000 })), 60_000);
    await waitFor('the backup service', () => answers(() => sendCommand(nc, 'backup', 'RequestBackup', {}, undefined, { timeoutMs: 1000 })), 60_000);
  } finally {
    await nc.close();
  }
}
