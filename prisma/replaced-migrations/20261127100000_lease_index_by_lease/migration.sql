-- The lease index was partial on status = 'PROCESSING'. Every statement that moves a claimed job
-- says status = 'PROCESSING' too, so the planner could read that index instead of the primary key,
-- and did whenever the table's statistics counted (almost) no PROCESSING rows, which is the usual
-- case: a batch completion then walked every leased job, plus the entries completions had left dead
-- since the last vacuum, for each job in the batch (measured: 7 ms per completion of 50 against
-- 1.4 ms, and 50-70 ms with 20,000 jobs leased). Keyed on the lease itself, the index is still
-- the one rescue reads (locked_until < now() implies locked_until IS NOT NULL), and job_queue_lease_check
-- keeps it exactly the PROCESSING rows, but no statement guarded by status alone can pick it.
DROP INDEX "job_queue_lease_idx";
CREATE INDEX "job_queue_lease_idx" ON "job_queue" ("locked_until") WHERE "locked_until" IS NOT NULL;
