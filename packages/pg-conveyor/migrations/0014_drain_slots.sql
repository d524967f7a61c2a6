-- Serverless invocations of a cron route running at once, counted across every instance. A route
-- that fans out (starts more invocations of itself when its backlog needs them) holds one row per
-- invocation: `slot` 0..cap-1, taken like a job is claimed (FOR UPDATE SKIP LOCKED), so concurrent
-- ticks and fan-outs never hold more than the cap. A slot is leased, not trusted: an invocation
-- killed before it released its slot (a timeout, a crash) frees it when `held_until` passes. A
-- slot reserved for an invocation not started yet carries its holder id and a short lease.
-- Rows are made on first use (one per slot up to the cap) and only updated after that.
CREATE TABLE "drain_slots" (
    "route"      TEXT        NOT NULL,
    "slot"       INTEGER     NOT NULL,
    "holder"     UUID,
    "held_until" TIMESTAMPTZ,
    -- When the current holder took it (null while only reserved for an invocation on its way).
    "started_at" TIMESTAMPTZ,
    CONSTRAINT "drain_slots_pkey" PRIMARY KEY ("route", "slot"),
    CONSTRAINT "drain_slots_route_check" CHECK (length("route") BETWEEN 1 AND 200),
    CONSTRAINT "drain_slots_slot_check" CHECK ("slot" BETWEEN 0 AND 999),
    CONSTRAINT "drain_slots_held_check" CHECK (("holder" IS NULL) = ("held_until" IS NULL))
);
