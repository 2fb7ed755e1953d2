/** Bytes written so far by each running dump, for `backup create` to show (in memory, per process). */
export class DumpProgress {
  private readonly running = new Map<string, { bytes: number; startedAt: number }>();

  begin(backupId: string, startedAt: number): void {
    this.running.set(backupId, { bytes: 0, startedAt });
  }
  update(backupId: string, bytes: number): void {
    const p = this.running.get(backupId);
    if (p) p.bytes = bytes;
  }
  end(backupId: string): void {
    this.running.delete(backupId);
  }
  get(backupId: string): { bytes: number; startedAt: number } | undefined {
    const p = this.running.get(backupId);
    return p && { ...p };
  }
}
