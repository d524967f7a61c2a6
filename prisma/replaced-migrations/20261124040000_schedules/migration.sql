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
