-- Finding dead letters by type in id order, and acting on all of them (an operator's "retry every
-- failed SEND_EMAIL"): an index of the FAILED and CANCELLED rows only, so the hot path's rows
-- (PENDING, PROCESSING, COMPLETED) never take an entry in it.
CREATE INDEX "job_queue_unsuccessful_idx" ON "job_queue" ("job_type", "status", "id")
    WHERE "status" IN ('FAILED', 'CANCELLED');

-- The audit log of bulk actions: who acted on which filter, how many jobs it matched and changed.
-- A bulk action walks the table in bounded batches across requests; `cursor` is where it stands.
CREATE TABLE "job_bulk_actions" (
    "id"           UUID        NOT NULL DEFAULT gen_random_uuid(),
    "action"       TEXT        NOT NULL,
    "filter"       JSONB       NOT NULL,
    "requested_by" TEXT,
    "matched"      INTEGER,
    "affected"     INTEGER     NOT NULL DEFAULT 0,
    "cursor"       UUID,
    "created_at"   TIMESTAMPTZ NOT NULL DEFAULT now(),
    "updated_at"   TIMESTAMPTZ NOT NULL DEFAULT now(),
    "finished_at"  TIMESTAMPTZ,
    CONSTRAINT "job_bulk_actions_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "job_bulk_actions_action_check" CHECK ("action" IN ('retry', 'cancel', 'delete')),
    CONSTRAINT "job_bulk_actions_requested_by_check" CHECK (length("requested_by") <= 200)
);
CREATE INDEX "job_bulk_actions_created_idx" ON "job_bulk_actions" ("created_at");
