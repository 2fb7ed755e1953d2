import type pg from 'pg';

/** Where the store keeps its tables: a PostgreSQL schema of its own. */
export const DEFAULT_SCHEMA = 'pgfleet_eventstore';

/** The tables and functions of one store, all under `schema`. */
export interface StoreSchema {
  schema: string;
  events: string;
  streams: string;
  checkpoints: string;
  /** Events that reads leave out because they cannot be read as their type's current schema. */
  parkedEvents: string;
  /** The append of the code before schema v3 (kept so a process not yet upgraded still appends). */
  appendFunction: string;
  /** One append in one call (schema v3). */
  appendEvents: string;
  /** LISTEN/NOTIFY channel woken by every append. */
  channel: string;
}

export function storeSchema(schema: string = DEFAULT_SCHEMA): StoreSchema {
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(schema))
    throw new Error(`invalid event store schema name "${schema}": use lowercase letters, digits and "_"`);
  return {
    schema,
    events: `${schema}.events`,
    streams: `${schema}.streams`,
    checkpoints: `${schema}.checkpoints`,
    parkedEvents: `${schema}.parked_events`,
    appendFunction: `${schema}.append_to_stream`,
    appendEvents: `${schema}.append_events`,
    channel: `${schema}_events`,
  };
}

/**
 * Migrations by version (index + 1). Never edit a released one: add the next.
 *
 * v1: events stamped with the writing transaction's id (xid8) so readers can read in
 * (transaction_id, position) order below the oldest open transaction and never skip an
 * event committed out of order; streams hold the version (locked by every append);
 * checkpoints of durable subscribers; append_to_stream does a whole append in one round trip.
 * v2: parked_events, one row per stored event that reads leave out (unknown type, no upcaster).
 * v3: a cheaper append. The primary key is the global order (transaction_id, position), one
 * index less to write per event; append_events bumps the stream's version as it locks it (one
 * write of the streams row, not two) and leaves the idempotency check to the insert: a stored
 * event id fails it with a unique violation, and only then does the caller look the ids up.
 */
function migrations(s: StoreSchema): string[] {
  return [
    `
    CREATE TABLE ${s.streams} (
      stream_id text PRIMARY KEY,
      version bigint NOT NULL
    );
    CREATE TABLE ${s.events} (
      position bigserial PRIMARY KEY,
      transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
      event_id uuid NOT NULL CONSTRAINT events_event_id_key UNIQUE,
      stream_id text NOT NULL,
      stream_version bigint NOT NULL,
      type text NOT NULL,
      schema_version integer NOT NULL,
      data jsonb NOT NULL,
      occurred_at timestamptz NOT NULL,
      correlation_id text NOT NULL,
      causation_id text,
      actor_kind text NOT NULL,
      actor_id text NOT NULL,
      CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
    );
    CREATE INDEX events_global_order ON ${s.events} (transaction_id, position);
    CREATE TABLE ${s.checkpoints} (
      subscriber_id text PRIMARY KEY,
      checkpoint text,
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE FUNCTION ${s.appendFunction}(p_stream_id text, p_expected text, p_events jsonb)
    RETURNS TABLE (out_already_appended boolean, out_version bigint, out_positions text[])
    LANGUAGE plpgsql AS $fn$
    DECLARE
      v_version bigint;
      v_count integer := jsonb_array_length(p_events);
      v_known integer;
      v_positions text[];
    BEGIN
      -- Lock the stream row (created at version 0 if new): concurrent appends queue here.
      INSERT INTO ${s.streams} AS st (stream_id, version) VALUES (p_stream_id, 0)
      ON CONFLICT (stream_id) DO UPDATE SET version = st.version
      RETURNING st.version INTO v_version;

      SELECT count(*) INTO v_known FROM ${s.events} e
       WHERE e.stream_id = p_stream_id
         AND e.event_id IN (SELECT (x->>'id')::uuid FROM jsonb_array_elements(p_events) x);
      IF v_known = v_count THEN
        RETURN QUERY SELECT true, v_version, NULL::text[];
        RETURN;
      ELSIF v_known > 0 THEN
        RAISE EXCEPTION '% of % events are already stored in stream %', v_known, v_count, p_stream_id
          USING ERRCODE = 'PF422';
      END IF;

      IF (p_expected = 'no_stream' AND v_version <> 0)
         OR (p_expected = 'stream_exists' AND v_version = 0)
         OR (p_expected ~ '^[0-9]+$' AND v_version <> p_expected::bigint) THEN
        RAISE EXCEPTION 'stream % is at version %, expected %', p_stream_id, v_version, p_expected
          USING ERRCODE = 'PF409', DETAIL = v_version::text;
      END IF;

      WITH inserted AS (
        INSERT INTO ${s.events} (event_id, stream_id, stream_version, type, schema_version, data,
                                 occurred_at, correlation_id, causation_id, actor_kind, actor_id)
        SELECT (x->>'id')::uuid, p_stream_id, v_version + n, x->>'type', (x->>'schemaVersion')::integer, x->'data',
               (x->>'occurredAt')::timestamptz, x->>'correlationId', x->>'causationId', x->>'actorKind', x->>'actorId'
          FROM jsonb_array_elements(p_events) WITH ORDINALITY AS t(x, n)
         ORDER BY n
        RETURNING position, stream_version
      )
      SELECT array_agg(i.position::text ORDER BY i.stream_version) INTO v_positions FROM inserted i;

      UPDATE ${s.streams} SET version = v_version + v_count WHERE stream_id = p_stream_id;
      RETURN QUERY SELECT false, v_version + v_count, v_positions;
    END
    $fn$;
    `,
    `
    CREATE TABLE ${s.parkedEvents} (
      event_id uuid PRIMARY KEY,
      stream_id text NOT NULL,
      stream_version bigint NOT NULL,
      type text NOT NULL,
      schema_version integer NOT NULL,
      code text NOT NULL,
      reason text NOT NULL,
      parked_at timestamptz NOT NULL DEFAULT now()
    );
    `,
    `
    DROP INDEX ${s.schema}.events_global_order;
    ALTER TABLE ${s.events} DROP CONSTRAINT events_pkey,
      ADD CONSTRAINT events_pkey PRIMARY KEY (transaction_id, position);
    CREATE FUNCTION ${s.appendEvents}(p_stream_id text, p_expected text, p_events jsonb)
    RETURNS TABLE (out_version bigint, out_positions text[])
    LANGUAGE plpgsql AS $fn$
    DECLARE
      v_count integer := jsonb_array_length(p_events);
      v_version bigint;
    BEGIN
      -- Lock the stream row, created if new, and take the versions: concurrent appends queue here.
      INSERT INTO ${s.streams} AS st (stream_id, version) VALUES (p_stream_id, v_count)
      ON CONFLICT (stream_id) DO UPDATE SET version = st.version + v_count
      RETURNING st.version - v_count INTO v_version;
      IF (p_expected = 'no_stream' AND v_version <> 0)
         OR (p_expected = 'stream_exists' AND v_version = 0)
         OR (p_expected ~ '^[0-9]+$' AND v_version <> p_expected::bigint) THEN
        RAISE EXCEPTION 'stream % is at version %, expected %', p_stream_id, v_version, p_expected
          USING ERRCODE = 'PF409', DETAIL = v_version::text;
      END IF;
      -- A stored event id fails this insert (events_event_id_key): the caller then checks the ids.
      RETURN QUERY
      WITH inserted AS (
        INSERT INTO ${s.events} (event_id, stream_id, stream_version, type, schema_version, data,
                                 occurred_at, correlation_id, causation_id, actor_kind, actor_id)
        SELECT x.id, p_stream_id, v_version + x.n, x.type, x.schema_version, x.data,
               x.occurred_at, x.correlation_id, x.causation_id, x.actor_kind, x.actor_id
          FROM ROWS FROM (jsonb_to_recordset(p_events) AS (
                 id uuid, type text, "schemaVersion" integer, data jsonb, "occurredAt" timestamptz,
                 "correlationId" text, "causationId" text, "actorKind" text, "actorId" text))
               WITH ORDINALITY AS x(id, type, schema_version, data, occurred_at,
                                    correlation_id, causation_id, actor_kind, actor_id, n)
         ORDER BY x.n
        RETURNING position, stream_version
      )
      SELECT v_version + v_count, array_agg(i.position::text ORDER BY i.stream_version) FROM inserted i;
    END
    $fn$;
    `,
  ];
}

/** The latest schema version this code knows. */
export function latestSchemaVersion(): number {
  return migrations(storeSchema()).length;
}

/**
 * Create or migrate the store's tables, idempotently and safely from several processes at once
 * (an advisory lock serialises migrators). Refuses a database migrated by a newer version.
 */
export async function migrateSchema(pool: pg.Pool, s: StoreSchema): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`pgfleet-eventstore-migrate:${s.schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s.schema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s.schema}.schema_version (
      version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number }>(
      `SELECT coalesce(max(version), 0)::integer AS version FROM ${s.schema}.schema_version`,
    );
    const current = rows[0]?.version ?? 0;
    const all = migrations(s);
    if (current > all.length)
      throw new Error(`event store schema ${s.schema} is at version ${current}, newer than this code (${all.length})`);
    for (let v = current + 1; v <= all.length; v++) {
      await client.query(all[v - 1]!);
      await client.query(`INSERT INTO ${s.schema}.schema_version (version) VALUES ($1)`, [v]);
    }
    await client.query('COMMIT');
    return all.length;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
