-- Rate limits become a sliding window: a claim of a rated type may start jobs only while fewer
-- than `rate_limit` started in the last `rate_period_ms`, in any window, ever. The starts are
-- kept per slot of a hundredth of the period (rate_slots[i] holds rate_counts[i] starts), at most
-- about a hundred slots whatever the limit, and each is counted for a full period after its slot
-- ends: never more than the limit, at worst a hundredth of a period late. The token bucket this
-- replaces started full and refilled continuously, so a window could hold up to twice the limit,
-- and setting the same limits again refilled it.
ALTER TABLE "job_type_limits"
    DROP COLUMN "tokens",
    DROP COLUMN "refilled_at",
    ADD COLUMN "rate_slots"  TIMESTAMPTZ[] NOT NULL DEFAULT '{}',
    ADD COLUMN "rate_counts" INTEGER[]     NOT NULL DEFAULT '{}';
