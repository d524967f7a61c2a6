-- Retention of workflow runs: cleanup() deletes runs finished before its cutoff (with their steps
-- and map items), reading this index as it reads job_queue_finished_idx for jobs.
CREATE INDEX "workflow_runs_finished_idx" ON "workflow_runs" ("completed_at") WHERE "status" IN ('COMPLETED', 'FAILED', 'CANCELLED');
