/**
 * Money is never a binary float here. An amount is first an exact fraction of a cent (BigInt
 * numerator and denominator, e.g. 1500 × 612030 / 2592000 cents), and is rounded once, half up, to a
 * whole cent. Invoice lines are rounded one by one; the total is the sum of the rounded lines.
 */
export interface Fraction {
  numerator: bigint;
  denominator: bigint;
}

/** `a × b × ... / (d1 × d2 × ...)` cents, exact. */
export function fraction(numerators: readonly number[], denominators: readonly number[]): Fraction {
  const product = (xs: readonly number[]) => xs.reduce((p, x) => p * BigInt(x), 1n);
  for (const x of [...numerators, ...denominators]) {
    if (!Number.isSafeInteger(x) || x < 0) throw new RangeError(`not a whole non-negative amount: ${x}`);
  }
  const denominator = product(denominators);
  if (denominator === 0n) throw new RangeError('division by zero');
  return { numerator: product(numerators), denominator };
}

/** Round a non-negative exact amount half up to whole cents: 354.5 -> 355, 354.49... -> 354. */
export function roundHalfUp({ numerator, denominator }: Fraction): number {
  return Number((2n * numerator + denominator) / (2n * denominator));
}
