import { connectBus, sendCommand } from '@pgfleet/bus';
import { waitFor, type TestPlatform } from './harness.js';

/** `up` returns once the service processes are spawned: wait until each answers its commands (an empty command gets a rejection). */
export async function waitForServices(t: TestPlatform, services: readonly (readonly ['provisioning', 'CreateCluster'] | readonly ['backup', 'RequestBackup'])[] = [['provisioning', 'CreateCluster'], ['backup', 'RequestBackup']]): Promise<void> {
  const nc = await connectBus({ servers: t.platform.natsUrl, name: 'pgfleet-test-ready' });
  try {
    for (const [service, command] of services) {
      await waitFor(`the ${service} service`, async () => (await sendCommand(nc, service, command, {}, undefined, { timeoutMs: 1000 })).code !== 'SERVICE_UNAVAILABLE', 60_000);
    }
  } finally {
    await nc.close();
  }
}
