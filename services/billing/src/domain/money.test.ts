import { describe, expect, it } from 'vitest';
import { fraction, roundHalfUp } from './money.js';
import { monthBounds, monthOf, monthsBetween, nextMonth, previousMonth } from './months.js';

describe('money', () => {
  it('rounds an exact amount half up to the cent, once', () => {
    expect(roundHalfUp(fraction([3], [2]))).toBe(2);
    expect(roundHalfUp(fraction([149], [100]))).toBe(1);
    expect(roundHalfUp(fraction([1500, 612_030], [2_592_000]))).toBe(354);
    // Beyond 2^53 on the way, exact with BigInt: 36 000 cents × 31 days of seconds × 1000.
    expect(roundHalfUp(fraction([36_000, 2_678_400, 1000], [2_678_400, 1000]))).toBe(36_000);
  });

  it('refuses fractional or negative inputs (no binary float ever enters an amount)', () => {
    expect(() => fraction([0.1], [1])).toThrow(RangeError);
    expect(() => fraction([-1], [1])).toThrow(RangeError);
    expect(() => fraction([1], [0])).toThrow(RangeError);
  });
});

describe('months', () => {
  it('has 28 to 31 days in UTC', () => {
    const days = (m: string) => (monthBounds(m).end - monthBounds(m).start) / 86_400;
    expect(['2027-02', '2028-02', '2026-11', '2026-12'].map(days)).toEqual([28, 29, 30, 31]);
    expect(monthOf(Date.parse('2026-11-30T23:59:59Z') / 1000)).toBe('2026-11');
    expect([nextMonth('2026-12'), previousMonth('2027-01')]).toEqual(['2027-01', '2026-12']);
    expect(monthsBetween('2026-11', '2027-02')).toEqual(['2026-11', '2026-12', '2027-01', '2027-02']);
    expect(monthsBetween('2026-11', '2026-10')).toEqual([]);
  });
});
