-- History that retries and cleanup cannot erase: finished jobs counted per minute and type, apart
-- from the job rows. Minutes are rolled up from job_queue (its finished index) a minute behind the
-- clock, so completions still committing are not missed; `through` is where the count stands.
-- Cleanup deletes only counted rows, and a retry counts the outcome it erases when it is newer.
CREATE TABLE "job_counts_minute" (
    "minute"    TIMESTAMPTZ NOT NULL,
    "job_type"  TEXT        NOT NULL,
    "completed" INTEGER     NOT NULL DEFAULT 0,
    "failed"    INTEGER     NOT NULL DEFAULT 0,
    "cancelled" INTEGER     NOT NULL DEFAULT 0,
    CONSTRAINT "job_counts_minute_pkey" PRIMARY KEY ("minute", "job_type")
);

CREATE TABLE "job_counts_rollup" (
    "one"     BOOLEAN     NOT NULL DEFAULT true,
    "through" TIMESTAMPTZ NOT NULL,
    CONSTRAINT "job_counts_rollup_pkey" PRIMARY KEY ("one"),
    CONSTRAINT "job_counts_rollup_one_check" CHECK ("one")
);
-- The charts reach back 7 days; jobs that finished before that stay uncounted.
INSERT INTO "job_counts_rollup" ("through") VALUES (date_trunc('minute', now()) - interval '7 days');
