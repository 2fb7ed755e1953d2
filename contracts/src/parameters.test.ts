import { describe, expect, it } from 'vitest';
import {
  applyParameterChanges,
  parameterAmount,
  parameterSettingsOf,
  PARAMETERS,
  planParameterChanges,
  refusedParameter,
} from './parameters.js';
import { findPlan } from './plans.js';

const starter = findPlan('starter-512')!;
const business = findPlan('business-4096')!;

describe('the parameter allow-list', () => {
  it('reads values with units as PostgreSQL does: memory in kB, durations in ms, bare ones in the base unit', () => {
    expect(parameterAmount(PARAMETERS.work_mem!, '64MB')).toBe(65_536);
    expect(parameterAmount(PARAMETERS.work_mem!, '1GB')).toBe(1_048_576);
    expect(parameterAmount(PARAMETERS.statement_timeout!, '5s')).toBe(5000);
    expect(parameterAmount(PARAMETERS.statement_timeout!, '250')).toBe(250);
    expect(parameterAmount(PARAMETERS.checkpoint_timeout!, '300')).toBe(300_000);
    expect(parameterAmount(PARAMETERS.checkpoint_timeout!, '5min')).toBe(300_000);
    expect(parameterAmount(PARAMETERS.random_page_cost!, '1.1')).toBe(1.1);
    expect(parameterAmount(PARAMETERS.work_mem!, '64')).toEqual({ expected: expect.stringContaining('unit') });
  });

  it('accepts values inside the bounds, the off value, and `default`', () => {
    expect(refusedParameter('work_mem', '64MB', starter)).toBeUndefined();
    expect(refusedParameter('shared_buffers', '256MB', starter)).toBeUndefined();
    expect(refusedParameter('statement_timeout', '0', starter)).toBeUndefined();
    expect(refusedParameter('log_min_duration_statement', '-1', starter)).toBeUndefined();
    expect(refusedParameter('max_connections', 'default', starter)).toBeUndefined();
  });

  it('an unknown parameter: one sentence saying PostgreSQL has no such parameter, listing the allowed ones', () => {
    const r = refusedParameter('work_mam', '64MB', starter)!;
    expect(r.code).toBe('UNKNOWN_PARAMETER');
    expect(r.message).toMatch(
      /^unknown parameter work_mam: PostgreSQL has no such parameter; the parameters you may set/,
    );
    expect(r.details?.field).toBe('parameters.work_mam');
  });

  it('a real PostgreSQL parameter off the allow-list is told apart from an unknown one', () => {
    const r = refusedParameter('wal_level', 'minimal', starter)!;
    expect(r.code).toBe('PARAMETER_NOT_ALLOWED');
    expect(r.message).toMatch(/^wal_level is not a parameter you may set \(the platform manages it\)/);
    expect(refusedParameter('archive_command', "'true'", starter)?.code).toBe('PARAMETER_NOT_ALLOWED');
  });

  it('bounds follow the plan: shared_buffers half its memory, max_connections its limit, max_wal_size 1/4 disk', () => {
    const sb = refusedParameter('shared_buffers', '1GB', starter)!;
    expect(sb.code).toBe('PARAMETER_OUT_OF_BOUNDS');
    expect(sb.message).toBe(
      'shared_buffers=1GB is out of bounds: shared_buffers must be 16MB to 256MB on plan starter-512',
    );
    expect(refusedParameter('shared_buffers', '1GB', business)).toBeUndefined();
    expect(refusedParameter('max_connections', '61', starter)?.message).toBe(
      'max_connections=61 is out of bounds: max_connections must be 10 to 60 on plan starter-512',
    );
    expect(refusedParameter('max_wal_size', '3GB', starter)?.code).toBe('PARAMETER_OUT_OF_BOUNDS');
    expect(refusedParameter('max_wal_size', '2GB', starter)).toBeUndefined();
  });

  it('fixed bounds say the off value; a value of the wrong type names the type', () => {
    expect(refusedParameter('statement_timeout', '2d', starter)?.message).toBe(
      'statement_timeout=2d is out of bounds: statement_timeout must be 1ms to 1d (or 0 to turn it off)',
    );
    expect(refusedParameter('checkpoint_timeout', '10s', starter)?.code).toBe('PARAMETER_OUT_OF_BOUNDS');
    expect(refusedParameter('work_mem', 'lots', starter)?.message).toBe(
      'work_mem=lots is not valid: work_mem takes a memory size with a unit (B, kB, MB, GB, TB), e.g. 64MB',
    );
    expect(refusedParameter('default_statistics_target', '1.5', starter)?.code).toBe('INVALID_PARAMETER_VALUE');
  });

  it('a request is refused whole at its first bad parameter; otherwise the changes with old and new values', () => {
    expect(planParameterChanges({}, starter, {})).toMatchObject({
      ok: false,
      rejection: { code: 'VALIDATION_FAILED' },
    });
    expect(planParameterChanges({ work_mem: '64MB', foo: '1' }, starter, {})).toMatchObject({
      ok: false,
      rejection: { code: 'UNKNOWN_PARAMETER' },
    });
    expect(planParameterChanges({ work_mem: '64MB', statement_timeout: '5s' }, starter, { work_mem: '8MB' })).toEqual({
      ok: true,
      changes: [
        { name: 'work_mem', old: '8MB', new: '64MB' },
        { name: 'statement_timeout', old: null, new: '5s' },
      ],
    });
    expect(planParameterChanges({ work_mem: 'default' }, starter, { work_mem: '8MB' })).toEqual({
      ok: true,
      changes: [{ name: 'work_mem', old: '8MB', new: null }],
    });
    expect(planParameterChanges({ work_mem: '8MB' }, starter, { work_mem: '8MB' })).toMatchObject({
      ok: false,
      rejection: { code: 'NO_CHANGE', message: 'work_mem=8MB: already so, nothing to change' },
    });
  });

  it('folds changes and renders postgresql.conf lines, quoting values with units', () => {
    const set = applyParameterChanges({ work_mem: '8MB' }, [
      { name: 'work_mem', old: '8MB', new: null },
      { name: 'shared_buffers', old: null, new: '192MB' },
      { name: 'random_page_cost', old: null, new: '1.1' },
    ]);
    expect(set).toEqual({ shared_buffers: '192MB', random_page_cost: '1.1' });
    expect(parameterSettingsOf(set)).toEqual({ shared_buffers: "'192MB'", random_page_cost: '1.1' });
  });
});
