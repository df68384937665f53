-- API rate limiting: requests per key per minute (a fixed window starting on the minute), counted
-- with one atomic upsert so every web process shares the count. Old windows are pruned.

CREATE TABLE api_rate_windows (
    key_id BIGINT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    window_start BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (key_id, window_start)
);
