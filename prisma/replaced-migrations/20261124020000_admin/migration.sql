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
