-- How long a step's body ran (ms, measured in the worker that ran it), for the run's timeline.
-- Null for sleeps, waits and maps (their span is in wake_at, resolved_at and their items).
ALTER TABLE "workflow_steps" ADD COLUMN "duration_ms" INTEGER;
