-- Paused job types: every claim skips them (the claim statement reads this table, so a pause
-- holds in every worker and cron tick at once, with no restart); running jobs finish. Rows exist
-- only while a type is paused: the claim's probe stays one lookup in a tiny table.
CREATE TABLE "job_type_pauses" (
    "job_type"  TEXT        NOT NULL,
    "paused_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    "paused_by" TEXT,
    CONSTRAINT "job_type_pauses_pkey" PRIMARY KEY ("job_type"),
    CONSTRAINT "job_type_pauses_paused_by_check" CHECK (length("paused_by") <= 200)
);
