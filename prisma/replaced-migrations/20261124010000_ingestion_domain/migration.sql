-- The app's domain: projects, ingestions, their records and the records' embeddings (pgvector).
CREATE EXTENSION IF NOT EXISTS vector;

-- Jobs that must not run at the same time share a concurrency key (VECTORIZE: one per project).
-- The partial unique index makes "at most one PROCESSING job per key" a fact the database enforces
-- even when two claims race; the claim skips keys already running.
ALTER TABLE "job_queue" ADD COLUMN "concurrency_key" TEXT;
ALTER TABLE "job_queue" ADD CONSTRAINT "job_queue_concurrency_key_check"
    CHECK ("concurrency_key" IS NULL OR length("concurrency_key") BETWEEN 1 AND 200);
CREATE UNIQUE INDEX "job_queue_one_running_per_key_idx" ON "job_queue" ("concurrency_key")
    WHERE "status" = 'PROCESSING' AND "concurrency_key" IS NOT NULL;

CREATE TABLE "projects" (
    "id"         UUID        NOT NULL DEFAULT gen_random_uuid(),
    "name"       TEXT        NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT "projects_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "projects_name_check" CHECK (length("name") BETWEEN 1 AND 200)
);
CREATE UNIQUE INDEX "projects_name_key" ON "projects" ("name");

CREATE TYPE "IngestStatus" AS ENUM ('QUEUED', 'PROCESSING', 'COMPLETED', 'FAILED');

CREATE TABLE "ingest_jobs" (
    "id"                  UUID           NOT NULL DEFAULT gen_random_uuid(),
    "project_id"          UUID           NOT NULL,
    "status"              "IngestStatus" NOT NULL DEFAULT 'QUEUED',
    "total_records"       INTEGER        NOT NULL,
    "saved_records"       INTEGER        NOT NULL DEFAULT 0,
    "skipped_records"     INTEGER        NOT NULL DEFAULT 0,
    "generate_embeddings" BOOLEAN        NOT NULL DEFAULT false,
    "queue_job_id"        UUID,
    "error"               TEXT,
    "created_at"          TIMESTAMPTZ    NOT NULL DEFAULT now(),
    "updated_at"          TIMESTAMPTZ    NOT NULL DEFAULT now(),
    "completed_at"        TIMESTAMPTZ,
    CONSTRAINT "ingest_jobs_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "ingest_jobs_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects" ("id") ON DELETE CASCADE,
    CONSTRAINT "ingest_jobs_counts_check" CHECK (
        "total_records" >= 0 AND "saved_records" >= 0 AND "skipped_records" >= 0
        AND "saved_records" + "skipped_records" <= "total_records")
);
CREATE INDEX "ingest_jobs_project_id_idx" ON "ingest_jobs" ("project_id", "created_at" DESC);

CREATE TABLE "records" (
    "id"            UUID        NOT NULL DEFAULT gen_random_uuid(),
    "project_id"    UUID        NOT NULL,
    "ingest_job_id" UUID        NOT NULL,
    -- Position in the submitted file: with ingest_job_id, the idempotency key that makes a
    -- retried or crashed batch store each record exactly once.
    "row_index"     INTEGER     NOT NULL,
    "content"       TEXT        NOT NULL,
    "metadata"      JSONB       NOT NULL DEFAULT '{}',
    "created_at"    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT "records_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "records_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects" ("id") ON DELETE CASCADE,
    CONSTRAINT "records_ingest_job_id_fkey" FOREIGN KEY ("ingest_job_id") REFERENCES "ingest_jobs" ("id") ON DELETE CASCADE,
    CONSTRAINT "records_row_index_check" CHECK ("row_index" >= 0)
);
CREATE UNIQUE INDEX "records_ingest_job_id_row_index_key" ON "records" ("ingest_job_id", "row_index");
CREATE INDEX "records_project_id_idx" ON "records" ("project_id", "id");

CREATE TABLE "embeddings" (
    "record_id"  UUID         NOT NULL,
    "project_id" UUID         NOT NULL,
    "embedding"  vector(1536) NOT NULL,
    "model"      TEXT         NOT NULL,
    "created_at" TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT "embeddings_pkey" PRIMARY KEY ("record_id"),
    CONSTRAINT "embeddings_record_id_fkey" FOREIGN KEY ("record_id") REFERENCES "records" ("id") ON DELETE CASCADE
);
CREATE INDEX "embeddings_project_id_idx" ON "embeddings" ("project_id");
-- Approximate nearest neighbours by cosine distance (the `<=>` operator).
CREATE INDEX "embeddings_embedding_hnsw_idx" ON "embeddings" USING hnsw ("embedding" vector_cosine_ops);
