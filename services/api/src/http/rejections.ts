import type { FastifyReply } from 'fastify';
import type { Rejection } from '@pgfleet/contracts';

/** The HTTP status of each rejection code; anything else is a 400. */
const HTTP_STATUS: Record<string, number> = {
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  UNAUTHORIZED: 401,
  CLUSTER_NOT_FOUND: 404,
  BACKUP_NOT_FOUND: 404,
  BACKUP_FILE_MISSING: 404,
  CA_MISSING: 404,
  UNKNOWN_NODE: 400,
  NAME_TAKEN: 409,
  CLUSTER_EXISTS: 409,
  CLUSTER_DELETED: 409,
  NOT_FAILED: 409,
  NOT_READY: 409,
  CLUSTER_NOT_READY: 409,
  BACKUPS_NOT_IN_PLAN: 409,
  TLS_NOT_FORCED: 409,
  CONFLICT: 409,
  NO_FOLLOWER: 409,
  ALREADY_LEADER: 409,
  LEADER_ALIVE: 409,
  LEADER_CHANGED: 409,
  STALE_TERM: 409,
  BACKUP_NOT_COMPLETED: 409,
  OPERATION_IN_PROGRESS: 409,
  IDEMPOTENCY_KEY_REUSED: 409,
  OPERATION_NOT_FOUND: 404,
  QUOTA_EXCEEDED: 429,
  INTERNAL: 500,
  SWITCHOVER_FAILED: 500,
  BACKUP_CORRUPT: 500,
  RESTORE_FAILED: 500,
  PROVISIONING_FAILED: 500,
  UNAVAILABLE: 503,
  SERVICE_UNAVAILABLE: 503,
  TIMEOUT: 504,
};

/** Answer with a rejection: its code's HTTP status, and `{ code, message, details }` as the body. */
export const reject = (reply: FastifyReply, r: Rejection) => reply.code(HTTP_STATUS[r.code] ?? 400).send(r);
