-- Fan-out in workflows (ctx.map): the step of kind 'map' stores how many items it fans out to;
-- each item runs as a job of its own and stores its result (or its final error) here. The last
-- item to finish wakes the run.
ALTER TABLE "workflow_steps" DROP CONSTRAINT "workflow_steps_kind_check";
ALTER TABLE "workflow_steps" ADD CONSTRAINT "workflow_steps_kind_check" CHECK ("kind" IN ('step', 'sleep', 'wait', 'map'));

CREATE TABLE "workflow_map_items" (
    "run_id"       UUID        NOT NULL,
    "seq"          INTEGER     NOT NULL,
    "idx"          INTEGER     NOT NULL CHECK ("idx" >= 0),
    "output"       JSONB,
    "error"        TEXT,
    "attempt"      INTEGER     NOT NULL,
    "completed_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY ("run_id", "seq", "idx"),
    FOREIGN KEY ("run_id", "seq") REFERENCES "workflow_steps" ("run_id", "seq") ON DELETE CASCADE
);
