import { z } from 'zod';
import type { Plan } from './plans.js';
import { POSTGRES_PARAMETER_NAMES } from './postgresParameterNames.js';
import type { Rejection } from './validation.js';

/**
 * The PostgreSQL parameters users may set on their cluster (`pgfleet config set`), with their type
 * and bounds: data, not code. Values are written as PostgreSQL reads them (`64MB`, `5s`); memory
 * sizes are counted in kB and durations in ms. A bound may follow the plan (a share of its memory
 * or disk, its connection limit), so what a plan can hold is respected. `restart` says what
 * PostgreSQL's context says (postmaster): only a restart applies it; the others apply on a reload.
 */

/** A bound: a number in the type's base unit (kB, ms), or a share of a plan's resource. */
type Bound = number | { plan: 'memoryMb' | 'diskGb' | 'maxConnections'; share: number };

export interface ParameterSpec {
  type: 'memory' | 'time' | 'integer' | 'real';
  /** What a value without a unit means, as PostgreSQL reads it (time parameters only). */
  bareUnit?: 'ms' | 's';
  min: number;
  max: Bound;
  /** A value that turns the feature off, allowed outside the bounds (e.g. 0 or -1). */
  off?: number;
  restart: boolean;
  summary: string;
}

const DAY_MS = 86_400_000;

export const PARAMETERS: Readonly<Record<string, ParameterSpec>> = {
  work_mem: {
    type: 'memory',
    min: 64,
    max: { plan: 'memoryMb', share: 0.25 },
    restart: false,
    summary: 'memory of one sort or hash before it spills to disk',
  },
  maintenance_work_mem: {
    type: 'memory',
    min: 1024,
    max: { plan: 'memoryMb', share: 0.5 },
    restart: false,
    summary: 'memory of VACUUM, CREATE INDEX and the like',
  },
  shared_buffers: {
    type: 'memory',
    min: 16 * 1024,
    max: { plan: 'memoryMb', share: 0.5 },
    restart: true,
    summary: "PostgreSQL's shared page cache",
  },
  effective_cache_size: {
    type: 'memory',
    min: 8 * 1024,
    max: { plan: 'memoryMb', share: 1 },
    restart: false,
    summary: "the planner's idea of the memory caching data",
  },
  max_wal_size: {
    type: 'memory',
    min: 32 * 1024,
    max: { plan: 'diskGb', share: 0.25 },
    restart: false,
    summary: 'WAL written before a checkpoint is forced',
  },
  max_connections: {
    type: 'integer',
    min: 10,
    max: { plan: 'maxConnections', share: 1 },
    restart: true,
    summary: 'concurrent connections',
  },
  statement_timeout: {
    type: 'time',
    bareUnit: 'ms',
    min: 1,
    max: DAY_MS,
    off: 0,
    restart: false,
    summary: 'longest a statement may run (0: no limit)',
  },
  idle_in_transaction_session_timeout: {
    type: 'time',
    bareUnit: 'ms',
    min: 1,
    max: DAY_MS,
    off: 0,
    restart: false,
    summary: 'longest a session may sit idle inside a transaction (0: no limit)',
  },
  log_min_duration_statement: {
    type: 'time',
    bareUnit: 'ms',
    min: 0,
    max: DAY_MS,
    off: -1,
    restart: false,
    summary: 'statements running longer are logged (-1: none)',
  },
  checkpoint_timeout: {
    type: 'time',
    bareUnit: 's',
    min: 30_000,
    max: DAY_MS,
    restart: false,
    summary: 'longest time between checkpoints',
  },
  random_page_cost: {
    type: 'real',
    min: 0.1,
    max: 100,
    restart: false,
    summary: "the planner's cost of a random page read",
  },
  default_statistics_target: {
    type: 'integer',
    min: 1,
    max: 10_000,
    restart: false,
    summary: 'detail of the statistics ANALYZE gathers',
  },
};

export const PARAMETER_NAMES = Object.keys(PARAMETERS);

/** A parameter name as a command carries it (validated against the allow-list by `planParameterChanges`). */
export const ParameterName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z_][A-Za-z0-9_.]*$/, 'must be a PostgreSQL parameter name (letters, digits, _ and .)');
/** A value as written after `=`; `default` goes back to the plan's own setting. */
export const ParameterValue = z.string().min(1).max(100);

/** One change of ClusterParametersChanged: `null` is the plan's own setting (never set, or reset). */
export const ParameterChange = z.object({
  name: ParameterName,
  old: ParameterValue.nullable(),
  new: ParameterValue.nullable(),
});
export type ParameterChange = z.infer<typeof ParameterChange>;

const MEMORY_UNITS: Record<string, number> = { B: 1 / 1024, kB: 1, MB: 1024, GB: 1024 ** 2, TB: 1024 ** 3 };
const TIME_UNITS: Record<string, number> = { ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: DAY_MS };

/** A value in the spec's base unit (kB, ms), or why it is not one. Pure. */
export function parameterAmount(spec: ParameterSpec, value: string): number | { expected: string } {
  const v = value.trim();
  switch (spec.type) {
    case 'memory': {
      const m = /^(\d+)\s*(B|kB|MB|GB|TB)$/.exec(v);
      return m
        ? Number(m[1]) * MEMORY_UNITS[m[2]!]!
        : { expected: 'a memory size with a unit (B, kB, MB, GB, TB), e.g. 64MB' };
    }
    case 'time': {
      const m = /^(-?\d+)\s*(ms|s|min|h|d)?$/.exec(v);
      if (!m) return { expected: 'a duration with a unit (ms, s, min, h, d), e.g. 5s' };
      return Number(m[1]) * TIME_UNITS[m[2] ?? spec.bareUnit ?? 'ms']!;
    }
    case 'integer':
      return /^-?\d+$/.test(v) ? Number(v) : { expected: 'an integer' };
    case 'real':
      return /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : { expected: 'a number, e.g. 1.1' };
    default: {
      const never: never = spec.type;
      return never;
    }
  }
}

/** A bound in the spec's base unit on `plan`. */
export function boundOn(bound: Bound, spec: ParameterSpec, plan: Plan): number {
  if (typeof bound === 'number') return bound;
  const perUnit =
    spec.type === 'memory' ? (bound.plan === 'diskGb' ? 1024 ** 2 : bound.plan === 'memoryMb' ? 1024 : 1) : 1;
  return Math.floor(plan[bound.plan] * perUnit * bound.share);
}

/** An amount in the base unit as people (and PostgreSQL) read it: `128MB`, `5min`, `0.1`. */
export function formatAmount(spec: ParameterSpec, amount: number): string {
  const largest = (units: Record<string, number>) =>
    Object.entries(units)
      .filter(([, size]) => size >= 1 && amount % size === 0)
      .reduce(([u, s], [unit, size]) => (size > s ? [unit, size] : [u, s]), ['', 0] as [string, number]);
  if (spec.type === 'memory') {
    const [unit, size] = largest(MEMORY_UNITS);
    return `${amount / size}${unit}`;
  }
  if (spec.type === 'time' && amount > 0) {
    const [unit, size] = largest(TIME_UNITS);
    return `${amount / size}${unit}`;
  }
  return String(amount);
}

type Planned = { ok: true; changes: ParameterChange[] } | { ok: false; rejection: Rejection };

const refuse = (code: string, message: string, name: string, extra: Record<string, unknown> = {}): Planned => ({
  ok: false,
  rejection: { code, message, details: { field: `parameters.${name}`, ...extra } },
});

/** Why `name=value` cannot be set on `plan`, in one sentence; undefined when it can. Pure. */
export function refusedParameter(name: string, value: string, plan: Plan): Rejection | undefined {
  const spec = Object.hasOwn(PARAMETERS, name) ? PARAMETERS[name] : undefined;
  if (!spec) {
    const allowed = `the parameters you may set are ${PARAMETER_NAMES.join(', ')}`;
    if (POSTGRES_PARAMETER_NAMES.has(name.toLowerCase())) {
      const message = `${name} is not a parameter you may set (the platform manages it); ${allowed}`;
      return { code: 'PARAMETER_NOT_ALLOWED', message, details: { field: `parameters.${name}`, rule: 'allow_list' } };
    }
    const message = `unknown parameter ${name}: PostgreSQL has no such parameter; ${allowed}`;
    return { code: 'UNKNOWN_PARAMETER', message, details: { field: `parameters.${name}`, rule: 'known' } };
  }
  if (value === 'default') return undefined;
  const amount = parameterAmount(spec, value);
  if (typeof amount !== 'number') {
    const message = `${name}=${value} is not valid: ${name} takes ${amount.expected}`;
    return { code: 'INVALID_PARAMETER_VALUE', message, details: { field: `parameters.${name}`, rule: 'type' } };
  }
  if (spec.off !== undefined && amount === spec.off) return undefined;
  const min = boundOn(spec.min, spec, plan);
  const max = boundOn(spec.max, spec, plan);
  if (amount < min || amount > max) {
    const off = spec.off === undefined ? '' : ` (or ${spec.off} to turn it off)`;
    const onPlan = typeof spec.max === 'number' ? '' : ` on plan ${plan.id}`;
    const range = `${formatAmount(spec, min)} to ${formatAmount(spec, max)}${off}`;
    const message = `${name}=${value} is out of bounds: ${name} must be ${range}${onPlan}`;
    return {
      code: 'PARAMETER_OUT_OF_BOUNDS',
      message,
      details: {
        field: `parameters.${name}`,
        rule: 'bounds',
        min: formatAmount(spec, min),
        max: formatAmount(spec, max),
      },
    };
  }
  return undefined;
}

/**
 * The changes `requested` makes to the parameters set on a cluster (`current`) on `plan`, each
 * checked first: an unknown name, a name off the allow-list, a value of the wrong type or out of
 * bounds refuses the whole request in one sentence naming it. `default` removes a setting.
 * Values equal to the current ones are no change. Pure.
 */
export function planParameterChanges(
  requested: Readonly<Record<string, string>>,
  plan: Plan,
  current: Readonly<Record<string, string>>,
): Planned {
  if (Object.keys(requested).length === 0) {
    const message = 'name at least one parameter to set, as name=value (e.g. work_mem=64MB)';
    return {
      ok: false,
      rejection: { code: 'VALIDATION_FAILED', message, details: { field: 'parameters', rule: 'min' } },
    };
  }
  const changes: ParameterChange[] = [];
  for (const [name, raw] of Object.entries(requested)) {
    const value = raw.trim();
    const refused = refusedParameter(name, value, plan);
    if (refused) return { ok: false, rejection: refused };
    const old = current[name] ?? null;
    const next = value === 'default' ? null : value;
    if (old !== next) changes.push({ name, old, new: next });
  }
  if (changes.length === 0) {
    const asked = Object.entries(requested).map(([name, value]) => `${name}=${value.trim()}`);
    return refuse('NO_CHANGE', `${asked.join(', ')}: already so, nothing to change`, Object.keys(requested)[0] ?? '');
  }
  return { ok: true, changes };
}

/** The parameters after `changes` (a `null` new value removes one). Pure. */
export function applyParameterChanges(
  current: Readonly<Record<string, string>>,
  changes: readonly ParameterChange[],
): Record<string, string> {
  const next = { ...current };
  for (const c of changes) {
    if (c.new === null) delete next[c.name];
    else next[c.name] = c.new;
  }
  return next;
}

/**
 * Parameters the platform itself sets on a cluster, never a user (they are not on the allow-list):
 * shared_preload_libraries holds the libraries of the enabled extensions that need one
 * (`preloadLibrariesWith` in extensions.ts), recorded with ClusterParametersChanged like the users'.
 */
const PLATFORM_PARAMETER_NAMES = ['shared_preload_libraries'] as const;

/**
 * The postgresql.conf lines of the parameters set on a cluster (values with units quoted), in
 * allow-list order, then the platform's own.
 */
export function parameterSettingsOf(parameters: Readonly<Record<string, string>>): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const name of [...PARAMETER_NAMES, ...PLATFORM_PARAMETER_NAMES]) {
    const value = parameters[name];
    if (value !== undefined) settings[name] = /^-?[\d.]+$/.test(value) ? value : `'${value}'`;
  }
  return settings;
}
