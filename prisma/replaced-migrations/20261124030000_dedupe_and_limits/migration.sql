-- Deduplication and per-type limits, all enforced by the database so they hold across processes,
-- serverless invocations and races.

-- dedupe_key: at most one PENDING or PROCESSING job per key (later enqueues of the key are dropped
-- while it is active). unique_key: at most one job per key, whatever its state, for as long as the
-- row exists: windowed dedupe (key + window start) and recurring jobs (schedule + slot) use it.
ALTER TABLE "job_queue" ADD COLUMN "dedupe_key" TEXT, ADD COLUMN "unique_key" TEXT;
ALTER TABLE "job_queue" ADD CONSTRAINT "job_queue_dedupe_key_check" CHECK (length("dedupe_key") BETWEEN 1 AND 300);
ALTER TABLE "job_queue" ADD CONSTRAINT "job_queue_unique_key_check" CHECK (length("unique_key") BETWEEN 1 AND 400);
CREATE UNIQUE INDEX "job_queue_dedupe_active_idx" ON "job_queue" ("dedupe_key")
    WHERE "dedupe_key" IS NOT NULL AND "status" IN ('PENDING', 'PROCESSING');
CREATE UNIQUE INDEX "job_queue_unique_key_idx" ON "job_queue" ("unique_key") WHERE "unique_key" IS NOT NULL;

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

-- The unique key of a windowed dedupe: the key and the start of the fixed window `at` falls in.
CREATE FUNCTION "conveyor_window_key"(key TEXT, window_ms BIGINT, at TIMESTAMPTZ) RETURNS TEXT
    LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT 'dedupe:' || key || '@' || (floor(extract(epoch FROM at) * 1000 / window_ms)::bigint * window_ms)::text
$$;
