-- Conveyor's job table. The database enforces the state machine's invariants, so a bug in any
-- client (or a hand-written UPDATE) cannot leave a job in a state the queue cannot reason about.

CREATE TYPE "JobStatus" AS ENUM ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'CANCELLED');

CREATE TABLE "job_queue" (
    "id"           UUID         NOT NULL DEFAULT gen_random_uuid(),
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

-- Admin lists: newest first, optionally by status.
CREATE INDEX "job_queue_status_created_idx" ON "job_queue" ("status", "created_at" DESC);
CREATE INDEX "job_queue_created_idx" ON "job_queue" ("created_at" DESC);

-- progress, payload, result and updated_at are in no index, so progress updates stay HOT.
-- A queue table churns: leave room on each page for HOT updates and vacuum it early.
ALTER TABLE "job_queue" SET (
    fillfactor = 80,
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_delay = 1
);
