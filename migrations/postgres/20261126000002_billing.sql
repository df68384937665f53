-- Billing: plans and their limits, Stripe subscriptions, processed webhook events, and usage.
-- Times are Unix seconds (BIGINT); sizes are bytes.

-- The plans and every limit they set. Seeded here; an operator edits them with
-- `server admin plans set`. Stripe price ids come from configuration, not from this table.
CREATE TABLE plans (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    position BIGINT NOT NULL,
    monthly_price_cents BIGINT NOT NULL,
    monthly_allowance BIGINT NOT NULL,
    max_file_bytes BIGINT NOT NULL,
    max_files_per_batch BIGINT NOT NULL,
    bulk_zip BOOLEAN NOT NULL,
    retention_secs BIGINT NOT NULL,
    storage_quota_bytes BIGINT NOT NULL,
    api_requests_per_minute BIGINT NOT NULL,
    concurrent_jobs BIGINT NOT NULL,
    queue_priority BIGINT NOT NULL
);

INSERT INTO plans (id, name, position, monthly_price_cents, monthly_allowance, max_file_bytes,
                   max_files_per_batch, bulk_zip, retention_secs, storage_quota_bytes,
                   api_requests_per_minute, concurrent_jobs, queue_priority)
VALUES
    ('free', 'Free', 0, 0, 500, 5000000, 20, FALSE, 3600, 500000000, 30, 1, 0),
    ('premium', 'Premium', 1, 900, 10000, 25000000, 200, TRUE, 86400, 10000000000, 120, 3, 1),
    ('pro', 'Pro', 2, 2900, 100000, 75000000, 1000, TRUE, 604800, 100000000000, 600, 10, 2);

-- A user's Stripe customer and subscription as last read from Stripe. `state_at` is when that
-- read started (Unix milliseconds): a read that started earlier never overwrites a later one.
-- `payment_failed_at` / `last_paid_at` are the creation times of the invoice events, compared so
-- that an old event arriving late cannot undo a newer one.
CREATE TABLE subscriptions (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stripe_customer_id TEXT NOT NULL,
    stripe_subscription_id TEXT,
    plan TEXT,
    status TEXT,
    current_period_end BIGINT,
    cancel_at_period_end BOOLEAN NOT NULL DEFAULT FALSE,
    payment_failed_at BIGINT,
    last_paid_at BIGINT,
    state_at BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    CONSTRAINT subscriptions_customer_key UNIQUE (stripe_customer_id)
);

-- Every Stripe event handled, so a redelivery is acknowledged and ignored.
CREATE TABLE stripe_events (
    id TEXT PRIMARY KEY NOT NULL,
    type TEXT NOT NULL,
    created BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX stripe_events_received_at_idx ON stripe_events (received_at);

-- Images compressed per user and calendar month (UTC), e.g. month = '2026-11'.
CREATE TABLE usage_counters (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    month TEXT NOT NULL,
    images BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, month)
);
