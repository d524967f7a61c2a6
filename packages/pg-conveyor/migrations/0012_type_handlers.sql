-- Which job types something handles: each worker (on start and every 30 s) and each drain notes
-- the types it claims, so the console can show jobs of a type nothing has handled lately (a
-- handler renamed or removed, a worker not deployed). One row per type; a note newer than 30 s
-- is not written again.
CREATE TABLE "job_type_handlers" (
    "job_type" TEXT        NOT NULL,
    "seen_at"  TIMESTAMPTZ NOT NULL DEFAULT now(),
    "seen_by"  TEXT,
    CONSTRAINT "job_type_handlers_pkey" PRIMARY KEY ("job_type"),
    CONSTRAINT "job_type_handlers_seen_by_check" CHECK (length("seen_by") <= 200)
);
