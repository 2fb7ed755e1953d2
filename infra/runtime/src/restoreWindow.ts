import { pgBackRestTime, type ArchiveInfo } from '@pgfleet/postgres';

/**
 * A restore's time target checked against the stanza's recoverable window (any driver): the
 * stanza readable, a backup in it, the target at or after the end of its oldest backup and not in
 * the future. Answers pgBackRest's form of the target; throws one sentence naming the window.
 */
export function restoreTarget(
  stanza: string,
  targetTime: string,
  archive: ArchiveInfo,
): { target: string; epochMs: number } {
  const { target, epochMs } = pgBackRestTime(targetTime);
  if (archive.status !== 'ok') {
    throw new Error(`stanza ${stanza} cannot be restored from: ${archive.message ?? archive.status}`);
  }
  const oldest = archive.backups[0];
  if (!oldest) throw new Error(`stanza ${stanza} has no backup to restore from`);
  if (epochMs < Date.parse(oldest.stoppedAt)) {
    const start = `${oldest.stoppedAt} (end of its oldest backup)`;
    throw new Error(`${targetTime} is before the recovery window of stanza ${stanza}, which starts at ${start}`);
  }
  if (epochMs > Date.now()) throw new Error(`${targetTime} is in the future`);
  return { target, epochMs };
}
