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
