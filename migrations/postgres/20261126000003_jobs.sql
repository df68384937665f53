-- Compression jobs and their items: the durable work queue. Ids are unguessable random strings.
-- Times are Unix seconds. An item is claimed by a worker under a lease; a lease that expires makes
-- it claimable again (the worker crashed), `available_at` delays a retry (backoff), and `counted`
-- records that its usage unit was counted, so a retried item is counted once.

CREATE TABLE jobs (
    id TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    visitor_ip TEXT,
    source TEXT NOT NULL CHECK (source IN ('web', 'api')),
    options TEXT NOT NULL,
    priority BIGINT NOT NULL DEFAULT 0,
    item_count BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX jobs_user_id_idx ON jobs (user_id, created_at);

CREATE TABLE job_items (
    id TEXT PRIMARY KEY NOT NULL,
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    input_key TEXT NOT NULL,
    input_bytes BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    available_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    output_key TEXT,
    output_bytes BIGINT,
    output_format TEXT,
    width BIGINT,
    height BIGINT,
    score DOUBLE PRECISION,
    kept_original BOOLEAN,
    error TEXT,
    counted BOOLEAN NOT NULL DEFAULT FALSE,
    finished_at BIGINT
);
CREATE INDEX job_items_job_id_idx ON job_items (job_id, position);
CREATE INDEX job_items_claimable_idx ON job_items (status, available_at);
