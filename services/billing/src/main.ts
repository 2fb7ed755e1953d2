import { runService } from '@pgfleet/kit';
import { billingService } from './service.js';

/** The billing service process (`pgfleet up` runs it): see service.ts. */
await runService(billingService());
