import type { KillMode, TargetResult } from './killLoop.js';

/** The target the baselines are compared with; its row goes first when it ran. */
const SUBJECT = 'pgfleet';
/** Issue 10: p95 of the recovery time at most 5 s, and no acknowledged commit lost. */
const TARGET_P95_MS = 5000;

/** Nearest-rank percentile (p in 0..100) of a non-empty list. */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const seconds = (ms: number | undefined) =>
  ms === undefined ? '-' : Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'not recovered';
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || !Number.isFinite(a / b) || b === 0 ? '-' : `${(a / b).toFixed(2)}x`;

/** The longest write outage after any recovery of this run, if any kill recovered. */
function laterOutage(result: TargetResult): number | undefined {
  const outages = result.kills.flatMap((k) => (k.laterOutageMs === undefined ? [] : [k.laterOutageMs]));
  return outages.length > 0 ? Math.max(...outages) : undefined;
}

interface Figures {
  p50?: number;
  p95?: number;
  max?: number;
}

function figures(result: TargetResult, mode?: KillMode): Figures {
  const times = result.kills.filter((k) => mode === undefined || k.mode === mode).map((k) => k.recoveryMs);
  if (times.length === 0) return {};
  return { p50: percentile(times, 50), p95: percentile(times, 95), max: Math.max(...times) };
}

/**
 * Prints the table to stdout: one row per target (the subject first), recovery time from the kill
 * to the first write acknowledged by the new leader, the longest write outage after a recovery
 * (before the next kill), acknowledged commits lost, operator actions, and on every baseline row
 * the ratio subject / baseline of p50 and p95 when the subject ran.
 */
export function printReport(results: readonly TargetResult[], header: string): void {
  const subject = results.find((r) => r.target.startsWith(SUBJECT));
  const ordered = subject ? [subject, ...results.filter((r) => r !== subject)] : results;
  const head = [
    'target',
    'kills (-9 / STOP)',
    'recovery p50',
    'p95',
    'max',
    'p50 kill -9',
    'p50 SIGSTOP',
    'leader moved',
    'later outage max',
    'acked writes',
    'lost acked commits',
    'operator actions',
    `${SUBJECT} / this (p50, p95)`,
  ];
  const rows = ordered.map((r) => {
    const all = figures(r);
    const mine = subject ? figures(subject) : undefined;
    const count = (mode: KillMode) => r.kills.filter((k) => k.mode === mode).length;
    return [
      r.target,
      `${r.kills.length} (${count('kill -9')} / ${count('SIGSTOP')})`,
      seconds(all.p50),
      seconds(all.p95),
      seconds(all.max),
      seconds(figures(r, 'kill -9').p50),
      seconds(figures(r, 'SIGSTOP').p50),
      `${r.kills.filter((k) => k.leaderMoved).length}/${r.kills.length}`,
      seconds(laterOutage(r)),
      r.verification ? String(r.verification.acknowledged) : '-',
      r.verification ? String(r.verification.lost) : 'not checked',
      String(r.interventions.length),
      r === subject || !mine ? '-' : `${ratio(mine.p50, all.p50)}, ${ratio(mine.p95, all.p95)}`,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  console.log(`\n${header}`);
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const r of rows) console.log(line(r));
  for (const r of ordered) {
    if (r.error) console.log(`${r.target}: stopped early after ${r.kills.length} kills: ${r.error}`);
    if (r.verification?.lost) {
      const by = Object.entries(r.verification.lostByIncarnation).map(([who, n]) => {
        const k = r.kills.findIndex((kill) => kill.to === who);
        const when = k >= 0 ? ` (first to answer after kill ${k + 1}, ${r.kills[k]!.mode})` : '';
        return `${n} acknowledged by ${who}${when}`;
      });
      console.log(
        `${r.target}: lost acknowledged rows: ${by.join(', ')}; e.g. (client:seq) ${r.verification.lostSample}`,
      );
    }
    for (const action of r.interventions) console.log(`${r.target}: operator action: ${action}`);
  }
  if (subject) {
    const p95 = figures(subject).p95;
    const met =
      !subject.error &&
      p95 !== undefined &&
      p95 <= TARGET_P95_MS &&
      subject.verification?.lost === 0 &&
      subject.interventions.length === 0;
    console.log(
      `target (${SUBJECT}): recovery p95 <= ${TARGET_P95_MS / 1000} s, 0 lost, no operator action: ` +
        `${met ? 'met' : 'NOT met'}`,
    );
  } else {
    console.log(
      `${SUBJECT}: not measured in this run (no ${SUBJECT} target selected or written yet: index.ts TARGETS)`,
    );
  }
}
