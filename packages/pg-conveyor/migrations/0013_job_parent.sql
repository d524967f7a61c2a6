-- Chained jobs: a job enqueued by completeJob(job, result, { enqueue }) (or a handler's follow-ups)
-- names the job that chained it, so the console can link both ways. Only chained jobs have it
-- set, and only they take an entry in the index; adding the column rewrites nothing.
ALTER TABLE "job_queue" ADD COLUMN "parent_id" UUID;
CREATE INDEX "job_queue_parent_idx" ON "job_queue" ("parent_id") WHERE "parent_id" IS NOT NULL;
