-- Conveyor's job table. The database enforces the state machine's invariants, so a bug in any
-- client (or a hand-written UPDATE) cannot leave a job in a state the queue cannot reason about.

CREATE TYPE "JobStatus" AS ENUM ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'CANCELLED');

-- UUIDv7: time-ordered ids (48-bit Unix ms, then random bits). New rows land at the right edge of
-- the primary key, and `ORDER BY id` is creation order, so no separate index on created_at is
-- needed (every index costs an insert on every state change). The library makes the same ids
-- client-side; this default serves rows inserted by hand.
CREATE FUNCTION "conveyor_uuid_v7"() RETURNS uuid LANGUAGE sql VOLATILE AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
              FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;

CREATE TABLE "job_queue" (
    "id"           UUID         NOT NULL DEFAULT "conveyor_uuid_v7"(),
    "job_type"     TEXT         NOT NULL,
    "status"       "JobStatus"  NOT NULL DEFAULT 'PENDING',
    "payload"      JSONB,
    "result"       JSONB,
    "priority"     INTEGER      NOT NULL DEFAULT 0,
    "attempts"     INTEGER      NOT NULL DEFAULT 0,
    "max_attempts" INTEGER      NOT NULL DEFAULT 3,
    "run_at"       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    "locked_until" TIMESTAMPTZ,
    "locked_by"    TEXT,
    "progress"     JSONB,
    "errors"       JSONB        NOT NULL DEFAULT '[]',
    "created_at"   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    "updated_at"   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    "started_at"   TIMESTAMPTZ,
    "completed_at" TIMESTAMPTZ,

    CONSTRAINT "job_queue_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "job_queue_job_type_check" CHECK ("job_type" ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    CONSTRAINT "job_queue_attempts_check" CHECK ("attempts" >= 0 AND "attempts" <= "max_attempts"),
    CONSTRAINT "job_queue_max_attempts_check" CHECK ("max_attempts" BETWEEN 1 AND 1000),
    CONSTRAINT "job_queue_errors_check" CHECK (jsonb_typeof("errors") = 'array'),
    -- A lease exists exactly while a job is being processed.
    CONSTRAINT "job_queue_lease_check" CHECK (("status" = 'PROCESSING') = ("locked_until" IS NOT NULL)),
    -- completed_at marks every finished job (COMPLETED, FAILED, CANCELLED) and nothing else.
    CONSTRAINT "job_queue_finished_check" CHECK (
        ("status" IN ('COMPLETED', 'FAILED', 'CANCELLED')) = ("completed_at" IS NOT NULL))
);

-- The claim's index: only ready rows, in claim order. Small however large the table grows.
CREATE INDEX "job_queue_ready_idx" ON "job_queue" ("job_type", "priority" DESC, "run_at", "id")
    WHERE "status" = 'PENDING';

-- Lease rescue scans only jobs being processed.
CREATE INDEX "job_queue_lease_idx" ON "job_queue" ("locked_until") WHERE "status" = 'PROCESSING';

-- Retention deletes finished jobs by age.
CREATE INDEX "job_queue_finished_idx" ON "job_queue" ("completed_at")
    WHERE "status" IN ('COMPLETED', 'FAILED', 'CANCELLED');

-- The oldest waiting job (stats, health): only PENDING rows, by id (= creation order).
CREATE INDEX "job_queue_pending_id_idx" ON "job_queue" ("id") WHERE "status" = 'PENDING';

-- Deliberately no full index besides the primary key: a state change is never a HOT update (the
-- status is in the partial indexes' predicates), so each full index would take a new entry on every
-- transition. Newest-first lists read the primary key backwards; finished-job lists read
-- job_queue_finished_idx. progress, payload, result and updated_at are in no index, so progress
-- updates stay HOT.
-- A queue table churns: leave room on each page for HOT updates and vacuum it early.
ALTER TABLE "job_queue" SET (
    fillfactor = 80,
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_delay = 1
);
