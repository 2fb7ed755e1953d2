import { afterEach } from 'vitest';
import { scanWatched } from './logScan.js';

// Every e2e test: no platform it ran printed or stored a secret (a cluster password, a token,
// a TLS private key, the secret store key). See logScan.ts.
afterEach(async () => {
  await scanWatched();
});
