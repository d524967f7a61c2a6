-- The ingestion pipeline runs as a durable workflow (src/lib/ingestion/workflow.ts).
-- pending_records: the submitted records until every batch of them is stored, then NULL (as the
--   INGEST_DATA job's payload was cleared on completion), so a finished ingestion keeps no copy.
-- workflow_run_id: the run that processes it (queue_job_id stays for ingestions from before).
-- processed_records: how far storing has got (stored or skipped), for the status API's progress.
ALTER TABLE "ingest_jobs"
    ADD COLUMN "pending_records"   JSONB,
    ADD COLUMN "workflow_run_id"   UUID,
    ADD COLUMN "processed_records" INTEGER NOT NULL DEFAULT 0;
