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
