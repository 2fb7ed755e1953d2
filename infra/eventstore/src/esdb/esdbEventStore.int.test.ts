import { describe } from 'vitest';
import { eventStoreContractSuite } from '../testing/contractSuite.js';
import { createEsdbEventStore } from './esdbEventStore.js';

const url = process.env.PGFLEET_ESDB_URL;

// No EventStoreDB server can be installed on these machines: this suite runs only when
// PGFLEET_ESDB_URL points at one (e.g. esdb://localhost:2113?tls=false), and is reported as
// skipped otherwise.
describe.skipIf(!url)(
  'EventStoreDB adapter (needs PGFLEET_ESDB_URL; no server can be installed on these machines)',
  () => {
    eventStoreContractSuite('EventStoreDB', async () => {
      const store = createEsdbEventStore({ connectionString: url!, pollIntervalMs: 100 });
      return { store, cleanup: () => store.close() };
    });
  },
);
