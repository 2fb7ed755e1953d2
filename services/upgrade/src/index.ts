export { decideUpgradeRequest, decideClusterUpgraded, UpgradeParams } from './domain/upgrade.js';
export { requestUpgrade } from './commands.js';
export { UpgradeConfig } from './config.js';
export type { UpgradeDeps } from './operations/deps.js';
export { majorUpgradeOperation } from './operations/majorUpgrade.js';
