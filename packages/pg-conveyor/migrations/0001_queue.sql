-- pg-conveyor's tables: job_queue, job_type_limits, job_schedules. The database enforces the state
-- machine's invariants, so a bug in any client (or a hand-written UPDATE) cannot leave a job in a
-- state the queue cannot reason about. Every row a queue inserts or moves pays for each CHECK and
-- each index entry, so there are no more of either than the queue's correctness needs.

CREATE TYPE "JobStatus" AS ENUM ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'CANCELLED');

-- UUIDv7: time-ordered ids (48-bit Unix ms, then random bits). New rows land at the right edge of
-- the primary key, and `ORDER BY id` is creation order, so no separate index on created_at is
-- needed. The library makes the same ids client-side; this default serves rows inserted by hand.
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
    "id"              UUID         NOT NULL DEFAULT "conveyor_uuid_v7"(),
    "job_type"        TEXT         NOT NULL,
    "status"          "JobStatus"  NOT NULL DEFAULT 'PENDING',
    "payload"         JSONB,
    "result"          JSONB,
    "priority"        INTEGER      NOT NULL DEFAULT 0,
    "attempts"        INTEGER      NOT NULL DEFAULT 0,
    "max_attempts"    INTEGER      NOT NULL DEFAULT 3,
    "run_at"          TIMESTAMPTZ  NOT NULL DEFAULT now(),
    "locked_until"    TIMESTAMPTZ,
    "locked_by"       TEXT,
    "progress"        JSONB,
    "errors"          JSONB        NOT NULL DEFAULT '[]',
    "created_at"      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    "updated_at"      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    "started_at"      TIMESTAMPTZ,
    "completed_at"    TIMESTAMPTZ,
    -- Jobs that must not run at the same time share a concurrency key.
    "concurrency_key" TEXT,
    -- At most one PENDING or PROCESSING job per dedupe_key (later enqueues are dropped while it is active).
    "dedupe_key"      TEXT,
    -- At most one job per unique_key, whatever its state, while the row exists: windowed dedupe
    -- (key + window start) and recurring jobs (schedule + slot) use it.
    "unique_key"      TEXT,

    CONSTRAINT "job_queue_pkey" PRIMARY KEY ("id"),
    -- The library validates the full job type pattern before any SQL runs (a regular expression
    -- here cost about a fifth of an insert). The table keeps what the queue's machinery relies on:
    -- a bounded length, and no comma (NOTIFY payloads list ready types separated by commas).
    CONSTRAINT "job_queue_job_type_check" CHECK (length("job_type") BETWEEN 1 AND 64 AND strpos("job_type", ',') = 0),
    CONSTRAINT "job_queue_attempts_check" CHECK ("attempts" >= 0 AND "attempts" <= "max_attempts"),
    CONSTRAINT "job_queue_max_attempts_check" CHECK ("max_attempts" BETWEEN 1 AND 1000),
    CONSTRAINT "job_queue_errors_check" CHECK (jsonb_typeof("errors") = 'array'),
    -- A lease exists exactly while a job is being processed.
    CONSTRAINT "job_queue_lease_check" CHECK (("status" = 'PROCESSING') = ("locked_until" IS NOT NULL)),
    -- completed_at marks every finished job (COMPLETED, FAILED, CANCELLED) and nothing else.
    CONSTRAINT "job_queue_finished_check" CHECK (
        ("status" IN ('COMPLETED', 'FAILED', 'CANCELLED')) = ("completed_at" IS NOT NULL)),
    CONSTRAINT "job_queue_concurrency_key_check" CHECK ("concurrency_key" IS NULL OR length("concurrency_key") BETWEEN 1 AND 200),
    CONSTRAINT "job_queue_dedupe_key_check" CHECK (length("dedupe_key") BETWEEN 1 AND 300),
    CONSTRAINT "job_queue_unique_key_check" CHECK (length("unique_key") BETWEEN 1 AND 400)
);

-- The claim's index: only ready rows, in claim order. Small however large the table grows. The
-- oldest waiting job (stats, health) is found through it too, one probe per type and priority.
CREATE INDEX "job_queue_ready_idx" ON "job_queue" ("job_type", "priority" DESC, "run_at", "id")
    WHERE "status" = 'PENDING';

-- Lease rescue reads only leased jobs. Keyed on the lease, not on status = 'PROCESSING': every
-- statement that moves a claimed job says status = 'PROCESSING', and with an index partial on that
-- the planner read it instead of the primary key whenever statistics counted few running jobs (a
-- completion of 50 took 7 ms instead of 1.4). job_queue_lease_check keeps it exactly the PROCESSING rows.
CREATE INDEX "job_queue_lease_idx" ON "job_queue" ("locked_until") WHERE "locked_until" IS NOT NULL;

-- Retention deletes finished jobs by age.
CREATE INDEX "job_queue_finished_idx" ON "job_queue" ("completed_at")
    WHERE "status" IN ('COMPLETED', 'FAILED', 'CANCELLED');

-- One running job per concurrency key, across every worker.
CREATE UNIQUE INDEX "job_queue_one_running_per_key_idx" ON "job_queue" ("concurrency_key")
    WHERE "status" = 'PROCESSING' AND "concurrency_key" IS NOT NULL;

CREATE UNIQUE INDEX "job_queue_dedupe_active_idx" ON "job_queue" ("dedupe_key")
    WHERE "dedupe_key" IS NOT NULL AND "status" IN ('PENDING', 'PROCESSING');
CREATE UNIQUE INDEX "job_queue_unique_key_idx" ON "job_queue" ("unique_key") WHERE "unique_key" IS NOT NULL;

-- Deliberately no full index besides the primary key: a state change is never a HOT update (the
-- status is in the partial indexes' predicates), so each full index would take a new entry on
-- every transition. progress, payload, result and updated_at are in no index, so progress updates
-- stay HOT. A queue table churns: leave room on each page for HOT updates and vacuum it early.
ALTER TABLE "job_queue" SET (
    fillfactor = 80,
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_delay = 1
);

-- The unique key of a windowed dedupe: the key and the start of the fixed window `at` falls in.
CREATE FUNCTION "conveyor_window_key"(key TEXT, window_ms BIGINT, at TIMESTAMPTZ) RETURNS TEXT
    LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT 'dedupe:' || key || '@' || (floor(extract(epoch FROM at) * 1000 / window_ms)::bigint * window_ms)::text
$$;

-- Limits per job type: at most `max_running` PROCESSING at once across all workers, and at most
-- `rate_limit` claims per `rate_period_ms` (a token bucket, refilled continuously). A claim of a
-- limited type first locks its row here, so claimers of that type take turns and each one counts
-- what the previous one committed; unlimited types never touch this table.
CREATE TABLE "job_type_limits" (
    "job_type"       TEXT        NOT NULL,
    "max_running"    INTEGER,
    "rate_limit"     INTEGER,
    "rate_period_ms" INTEGER,
    "tokens"         FLOAT8      NOT NULL DEFAULT 0,
    "refilled_at"    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT "job_type_limits_pkey" PRIMARY KEY ("job_type"),
    CONSTRAINT "job_type_limits_max_running_check" CHECK ("max_running" IS NULL OR "max_running" BETWEEN 1 AND 10000),
    CONSTRAINT "job_type_limits_rate_check" CHECK (
        ("rate_limit" IS NULL AND "rate_period_ms" IS NULL)
        OR ("rate_limit" BETWEEN 1 AND 1000000 AND "rate_period_ms" BETWEEN 1 AND 86400000))
);

-- Recurring jobs. Each due slot is enqueued with the unique key `schedule:<name>@<slot>`, so
-- however many workers and cron invocations fire schedules at once, a slot makes exactly one job.
CREATE TABLE "job_schedules" (
    "name"         TEXT        NOT NULL,
    "cron"         TEXT        NOT NULL,
    "timezone"     TEXT        NOT NULL DEFAULT 'UTC',
    "job_type"     TEXT        NOT NULL,
    "payload"      JSONB,
    "priority"     INTEGER     NOT NULL DEFAULT 0,
    "max_attempts" INTEGER     NOT NULL DEFAULT 3,
    "enabled"      BOOLEAN     NOT NULL DEFAULT true,
    -- The latest slot enqueued; only later slots are due.
    "last_slot"    TIMESTAMPTZ,
    "created_at"   TIMESTAMPTZ NOT NULL DEFAULT now(),
    "updated_at"   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT "job_schedules_pkey" PRIMARY KEY ("name"),
    CONSTRAINT "job_schedules_name_check" CHECK ("name" ~ '^[A-Za-z0-9_.:-]{1,100}$')
);
