import { NodeRuntimeError, type MajorUpgrade, type WalArchive } from '../port.js';

/** What the docker driver does not do yet: each call rejects with NOT_SUPPORTED naming the method. */
export const notSupported = (method: string) => async (): Promise<never> => {
  throw new NodeRuntimeError('NOT_SUPPORTED', `the docker driver does not implement ${method} yet`, { method });
};

export function unsupportedArchive(): WalArchive {
  const no = (m: string) => notSupported(`archive.${m}`);
  return {
    createStanza: no('createStanza'),
    upgradeStanza: no('upgradeStanza'),
    check: no('check'),
    backup: no('backup'),
    info: no('info'),
    expire: no('expire'),
    restore: no('restore'),
    remove: no('remove'),
  };
}

export function unsupportedUpgrade(): MajorUpgrade {
  const no = (m: string) => notSupported(`majorUpgrade.${m}`);
  return {
    check: no('check'),
    upgrade: no('upgrade'),
    switchTo: no('switchTo'),
    discard: no('discard'),
    removeOld: no('removeOld'),
  };
}
