-- Durable workflows: a run is advanced by ordinary queue jobs (type conveyor.workflow, payload
-- { runId }), each replaying the run's code against the steps stored here and running what comes
-- next. Only finished steps are stored: a step's failed attempts are the advancing job's errors.
-- A run has at most one active advancing job (its dedupe key is workflow:<run id>).
CREATE TYPE "WorkflowRunStatus" AS ENUM ('RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED');

CREATE TABLE "workflow_runs" (
    "id"              UUID                NOT NULL DEFAULT conveyor_uuid_v7() PRIMARY KEY,
    "name"            TEXT                NOT NULL CHECK (length("name") BETWEEN 1 AND 64),
    "status"          "WorkflowRunStatus" NOT NULL DEFAULT 'RUNNING',
    "input"           JSONB,
    "output"          JSONB,
    "error"           TEXT,
    "idempotency_key" TEXT                CHECK (length("idempotency_key") BETWEEN 1 AND 300),
    "current_step"    TEXT,
    "created_at"      TIMESTAMPTZ         NOT NULL DEFAULT now(),
    "updated_at"      TIMESTAMPTZ         NOT NULL DEFAULT now(),
    "completed_at"    TIMESTAMPTZ
);
CREATE UNIQUE INDEX "workflow_runs_idempotency_idx" ON "workflow_runs" ("name", "idempotency_key") WHERE "idempotency_key" IS NOT NULL;
CREATE INDEX "workflow_runs_created_idx" ON "workflow_runs" ("created_at");

CREATE TABLE "workflow_steps" (
    "run_id"       UUID        NOT NULL REFERENCES "workflow_runs" ("id") ON DELETE CASCADE,
    "seq"          INTEGER     NOT NULL CHECK ("seq" >= 0),
    "name"         TEXT        NOT NULL,
    "kind"         TEXT        NOT NULL CHECK ("kind" IN ('step', 'sleep')),
    "output"       JSONB,
    -- A sleep's end; the run's next job is due then.
    "wake_at"      TIMESTAMPTZ,
    -- The attempt of the advancing job that finished it (1: first try).
    "attempt"      INTEGER     NOT NULL,
    "completed_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY ("run_id", "seq")
);
