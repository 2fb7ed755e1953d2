import { OperationFailure } from '@pgfleet/kit';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `probe` until it answers; a step that cannot complete in time fails with what it waited for. */
export async function until<T>(
  step: string,
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 200,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new OperationFailure(step, `${what} did not happen within ${timeoutMs / 1000} s`);
    await sleep(everyMs);
  }
}
