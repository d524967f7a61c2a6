-- The demo app's tables, apart from the queue's: pg-conveyor creates and migrates its own
-- (job_queue, job_type_limits, job_schedules; `conveyor migrate`), which this app's runner applies
-- first (src/lib/db/migrations.ts).
--
-- This one migration replaces the app's nine earlier ones (20261124000000_job_queue ..
-- 20261128000000_api_keys), which made the queue's tables and the app's together. A database they
-- migrated has all of this already: the runner records this migration as applied there without
-- running it (with Prisma: `prisma migrate resolve --applied 20261128100000_app_tables`).

-- The app's domain: projects, ingestions, their records and the records' embeddings (pgvector).
CREATE EXTENSION IF NOT EXISTS vector;

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

-- Admin users. Passwords are stored as scrypt hashes (salt and parameters in the string).
CREATE TYPE "UserRole" AS ENUM ('VIEWER', 'MANAGER', 'ADMIN');

CREATE TABLE "users" (
    "id"            UUID        NOT NULL DEFAULT gen_random_uuid(),
    "email"         TEXT        NOT NULL,
    "password_hash" TEXT        NOT NULL,
    "role"          "UserRole"  NOT NULL DEFAULT 'VIEWER',
    "created_at"    TIMESTAMPTZ NOT NULL DEFAULT now(),
    "last_login_at" TIMESTAMPTZ,
    CONSTRAINT "users_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "users_email_check" CHECK ("email" = lower("email") AND length("email") BETWEEN 3 AND 254)
);
CREATE UNIQUE INDEX "users_email_key" ON "users" ("email");

-- When each worker (cron route or worker process) last ran, for the health check.
CREATE TABLE "worker_heartbeats" (
    "name"        TEXT        NOT NULL,
    "last_run_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    "last_result" JSONB,
    CONSTRAINT "worker_heartbeats_pkey" PRIMARY KEY ("name")
);

-- Sessions that can be ended: the cookie holds a session id (sealed), and a request is signed in
-- only while its row is unrevoked, unexpired and not idle. Signing out revokes the row; a password
-- or role change revokes every row of the user. A copied cookie dies with its row.
CREATE TABLE "user_sessions" (
    "id"           UUID        NOT NULL DEFAULT gen_random_uuid(),
    "user_id"      UUID        NOT NULL,
    "created_at"   TIMESTAMPTZ NOT NULL DEFAULT now(),
    "last_seen_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    "expires_at"   TIMESTAMPTZ NOT NULL,
    "revoked_at"   TIMESTAMPTZ,
    CONSTRAINT "user_sessions_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "user_sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON DELETE CASCADE
);
CREATE INDEX "user_sessions_user_id_idx" ON "user_sessions" ("user_id");

-- Failed sign-ins, counted per account ('account:<email>', whether or not the account exists) and
-- per client address ('address:<ip>'). Past a few failures a key is blocked for a time that
-- doubles with each further failure; the count starts over after an hour without one.
CREATE TABLE "sign_in_throttle" (
    "key"             TEXT        NOT NULL,
    "failures"        INTEGER     NOT NULL,
    "last_failure_at" TIMESTAMPTZ NOT NULL,
    "blocked_until"   TIMESTAMPTZ,
    CONSTRAINT "sign_in_throttle_pkey" PRIMARY KEY ("key"),
    CONSTRAINT "sign_in_throttle_key_check" CHECK (length("key") BETWEEN 1 AND 300)
);

-- API keys: the public API (ingest, job status, search) acts for the project of the key it is
-- called with, and only that project. A key is shown once; only its SHA-256 is kept (a key is 256
-- random bits, so a fast hash is as safe as a slow one and costs nothing per request). The prefix
-- is the public part that names a key in lists and logs.
CREATE TABLE "api_keys" (
    "id"                  UUID        NOT NULL DEFAULT gen_random_uuid(),
    "project_id"          UUID        NOT NULL,
    "name"                TEXT        NOT NULL,
    "prefix"              TEXT        NOT NULL,
    "secret_hash"         BYTEA       NOT NULL,
    "requests_per_minute" INTEGER     NOT NULL DEFAULT 120,
    "records_per_day"     INTEGER     NOT NULL DEFAULT 100000,
    "embeddings_per_day"  INTEGER     NOT NULL DEFAULT 100000,
    "created_by"          UUID,
    "created_at"          TIMESTAMPTZ NOT NULL DEFAULT now(),
    "last_used_at"        TIMESTAMPTZ,
    "revoked_at"          TIMESTAMPTZ,
    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "api_keys_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects" ("id") ON DELETE CASCADE,
    CONSTRAINT "api_keys_created_by_fkey" FOREIGN KEY ("created_by") REFERENCES "users" ("id") ON DELETE SET NULL,
    CONSTRAINT "api_keys_name_check" CHECK (length("name") BETWEEN 1 AND 100),
    CONSTRAINT "api_keys_secret_hash_check" CHECK (length("secret_hash") = 32),
    CONSTRAINT "api_keys_limits_check" CHECK ("requests_per_minute" > 0 AND "records_per_day" > 0 AND "embeddings_per_day" > 0)
);
CREATE UNIQUE INDEX "api_keys_prefix_key" ON "api_keys" ("prefix");
CREATE INDEX "api_keys_project_id_idx" ON "api_keys" ("project_id");

-- What each key has used, per meter and fixed window (a minute for requests, a UTC day for
-- records and embeddings). Held here so every serverless instance counts against the same limit;
-- windows older than two days are deleted by the cleanup worker.
CREATE TABLE "api_key_usage" (
    "api_key_id"   UUID        NOT NULL,
    "meter"        TEXT        NOT NULL,
    "window_start" TIMESTAMPTZ NOT NULL,
    "used"         INTEGER     NOT NULL,
    CONSTRAINT "api_key_usage_pkey" PRIMARY KEY ("api_key_id", "meter", "window_start"),
    CONSTRAINT "api_key_usage_api_key_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "api_keys" ("id") ON DELETE CASCADE,
    CONSTRAINT "api_key_usage_meter_check" CHECK ("meter" IN ('requests', 'records', 'embeddings')),
    CONSTRAINT "api_key_usage_used_check" CHECK ("used" >= 0)
);
CREATE INDEX "api_key_usage_window_start_idx" ON "api_key_usage" ("window_start");
