-- Workflow runs waiting for an event (ctx.waitForEvent): a step of kind 'wait' stored when the
-- run reaches it, with the event's name, the fields it must contain (match) and its timeout
-- (wake_at); resolved_at is set once, by the first of sendEvent (output = the event's payload)
-- and the timeout (output NULL).
ALTER TABLE "workflow_steps" DROP CONSTRAINT "workflow_steps_kind_check";
ALTER TABLE "workflow_steps" ADD CONSTRAINT "workflow_steps_kind_check" CHECK ("kind" IN ('step', 'sleep', 'wait'));
ALTER TABLE "workflow_steps" ADD COLUMN "event" TEXT;
ALTER TABLE "workflow_steps" ADD COLUMN "match" JSONB;
ALTER TABLE "workflow_steps" ADD COLUMN "resolved_at" TIMESTAMPTZ;
CREATE INDEX "workflow_steps_waiting_idx" ON "workflow_steps" ("event") WHERE "kind" = 'wait' AND "resolved_at" IS NULL;
