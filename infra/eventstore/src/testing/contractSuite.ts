import { describe } from 'vitest';
import { appendContract } from './appendContract.js';
import type { MakeContractStore } from './fixtures.js';
import { subscriptionContract } from './subscriptionContract.js';

export type { ContractStore, MakeContractStore } from './fixtures.js';

/**
 * The behaviour every EventStore adapter must have. `makeStore` gives a store for one test
 * (fresh, or shared: every test uses its own stream ids) and cleans up after it.
 */
export function eventStoreContractSuite(name: string, makeStore: MakeContractStore): void {
  describe(`EventStore contract: ${name}`, () => {
    appendContract(makeStore);
    subscriptionContract(makeStore);
  });
}
