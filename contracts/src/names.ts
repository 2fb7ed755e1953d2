import { z } from 'zod';

/** Ids travel inside NATS subject tokens and stream ids: no dots, no wildcards, no spaces. */
export const Id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-"');

export const ClusterName = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{1,38}[a-z0-9]$/,
    'must be 3-40 lowercase letters, digits or "-", starting with a letter and not ending with "-"',
  );

export const AccountId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 lowercase letters, digits, "_" or "-"');
