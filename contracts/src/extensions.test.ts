import { describe, expect, it } from 'vitest';
import { COMMANDS } from './commands/index.js';
import { EXTENSIONS, preloadLibrariesWith, refusedExtension } from './extensions.js';
import { parameterSettingsOf } from './parameters.js';
import { parseWith } from './validation.js';

describe('the extension allow-list', () => {
  it('refuses an extension off the list in one sentence naming the list, at the boundary and in deciders', () => {
    const parsed = parseWith(COMMANDS.provisioning.EnableExtension, { clusterId: 'c', extension: 'plperlu' }, 'x');
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.rejection.details?.field).toBe('extension');
    expect(parsed.rejection.message).toMatch(
      /^invalid x: extension: plperlu is not an extension you may enable; the extensions you may enable are pg_st/,
    );
    expect(refusedExtension('plperlu')).toMatchObject({
      code: 'EXTENSION_NOT_ALLOWED',
      details: { field: 'extension' },
    });
    expect(refusedExtension('pgcrypto')).toBeUndefined();
    expect(refusedExtension('toString')).toBeDefined();
  });

  it('says which extensions need a preloaded library: pg_stat_statements only', () => {
    expect(Object.keys(EXTENSIONS).filter((name) => EXTENSIONS[name]?.preload)).toEqual(['pg_stat_statements']);
  });

  it('adds and removes a library in shared_preload_libraries, keeping the others, null when none is left', () => {
    expect(preloadLibrariesWith(null, 'pg_stat_statements', true)).toBe('pg_stat_statements');
    expect(preloadLibrariesWith('auto_explain', 'pg_stat_statements', true)).toBe('auto_explain,pg_stat_statements');
    expect(preloadLibrariesWith('pg_stat_statements', 'pg_stat_statements', true)).toBe('pg_stat_statements');
    expect(preloadLibrariesWith('pg_stat_statements', 'pg_stat_statements', false)).toBeNull();
    expect(preloadLibrariesWith(null, 'pgcrypto', true)).toBeNull();
  });

  it('renders shared_preload_libraries into the configuration of every node, quoted, after the allowed ones', () => {
    const settings = parameterSettingsOf({ shared_preload_libraries: 'pg_stat_statements', work_mem: '64MB' });
    expect(settings).toEqual({ work_mem: "'64MB'", shared_preload_libraries: "'pg_stat_statements'" });
    expect(Object.keys(settings)).toEqual(['work_mem', 'shared_preload_libraries']);
  });
});
