import { z } from 'zod';

/** Daily-backup retention: keep the last N dailies plus one per week / month for N weeks / months. */
export const Retention = z.object({
  days: z.number().int().min(0),
  weeks: z.number().int().min(0),
  months: z.number().int().min(0),
});

/** What the platform does to writes over the disk quota (plan data). */
export const DiskOverQuota = z.enum(['warn']);
export type DiskOverQuota = z.infer<typeof DiskOverQuota>;

export const Plan = z.object({
  id: z.string(),
  tier: z.enum(['sandbox', 'starter', 'business']),
  dataNodes: z.union([z.literal(1), z.literal(3)]),
  gateways: z.union([z.literal(1), z.literal(2)]),
  memoryMb: z.number().int().positive(),
  diskGb: z.number().int().positive(),
  maxConnections: z.number().int().positive(),
  backups: z.object({
    enabled: z.boolean(),
    /** Rolling limit of manual backups kept: it bounds storage; reaching it evicts the oldest. */
    manualTotal: z.number().int().min(0),
    /** Manual backups per UTC day: it bounds load; reaching it refuses. */
    manualDaily: z.number().int().min(0),
    daily: Retention,
    /** Business: dumps run on a follower. */
    onFollower: z.boolean(),
  }),
  pitrDays: z.number().int().min(0),
  synchronousReplication: z.boolean(),
  monthlyPriceCents: z.number().int().min(0),
  /**
   * Price of one GiB (2^30 bytes) of data over `diskGb` for one hour, in millicents (1/1000 of a
   * euro cent, so sub-cent rates stay integers): billed while the disk quota is exceeded.
   */
  diskOverQuotaMillicentsPerGbHour: z.number().int().min(0),
  /**
   * What happens to writes while the data exceed `diskGb`: `warn` records `QuotaExceeded {kind: 'disk'}`
   * (billed per GiB-hour above) and writes go on. A refusal (e.g. read-only) is not offered yet.
   */
  diskOverQuota: DiskOverQuota,
});
export type Plan = z.infer<typeof Plan>;

const noBackups = {
  enabled: false,
  manualTotal: 0,
  manualDaily: 0,
  daily: { days: 0, weeks: 0, months: 0 },
  onFollower: false,
};
const starterBackups = {
  enabled: true,
  manualTotal: 10,
  manualDaily: 20,
  daily: { days: 7, weeks: 4, months: 0 },
  onFollower: false,
};
const businessBackups = {
  enabled: true,
  manualTotal: 50,
  manualDaily: 100,
  daily: { days: 7, weeks: 8, months: 12 },
  onFollower: true,
};

const starter = (memoryMb: number, diskGb: number, maxConnections: number, monthlyPriceCents: number): Plan => ({
  id: `starter-${memoryMb}`,
  tier: 'starter',
  dataNodes: 1,
  gateways: 1,
  memoryMb,
  diskGb,
  maxConnections,
  backups: starterBackups,
  pitrDays: 7,
  synchronousReplication: false,
  monthlyPriceCents,
  diskOverQuotaMillicentsPerGbHour: 70,
  diskOverQuota: 'warn',
});
const business = (memoryMb: number, diskGb: number, maxConnections: number, monthlyPriceCents: number): Plan => ({
  id: `business-${memoryMb}`,
  tier: 'business',
  dataNodes: 3,
  gateways: 2,
  memoryMb,
  diskGb,
  maxConnections,
  backups: businessBackups,
  pitrDays: 14,
  synchronousReplication: true,
  monthlyPriceCents,
  diskOverQuotaMillicentsPerGbHour: 50,
  diskOverQuota: 'warn',
});

/**
 * The plan catalog: data, not code. Prices in euro cents per month; disk over quota in millicents
 * per GiB-hour (starter 0.07 c, business 0.05 c: about 0.51 / 0.37 EUR per GiB-month).
 */
export const PLANS: readonly Plan[] = [
  {
    id: 'sandbox',
    tier: 'sandbox',
    dataNodes: 1,
    gateways: 1,
    memoryMb: 256,
    diskGb: 1,
    maxConnections: 20,
    backups: noBackups,
    pitrDays: 0,
    synchronousReplication: false,
    monthlyPriceCents: 0,
    diskOverQuotaMillicentsPerGbHour: 0,
    diskOverQuota: 'warn',
  },
  starter(512, 10, 60, 1500),
  starter(1024, 20, 100, 3000),
  starter(2048, 40, 150, 6000),
  business(1024, 20, 100, 9000),
  business(2048, 40, 200, 18000),
  business(4096, 80, 300, 36000),
];

export const PLAN_IDS = PLANS.map((p) => p.id) as [string, ...string[]];
export const PlanId = z.enum(PLAN_IDS);
export type PlanId = z.infer<typeof PlanId>;

export function findPlan(id: string): Plan | undefined {
  return PLANS.find((p) => p.id === id);
}

export const POSTGRES_VERSIONS = [13, 15] as const;
export const PostgresVersion = z.union([z.literal(13), z.literal(15)]);
export type PostgresVersion = z.infer<typeof PostgresVersion>;
