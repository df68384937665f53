-- Accounts: users, their sessions, password-reset tokens, API keys and security events.
-- Times are Unix seconds (BIGINT) so that both backends read them the same way.

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    plan TEXT NOT NULL DEFAULT 'free',
    created_at BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email)
);

-- tower-sessions records; the id is stored as its SHA-256 so a database dump holds no live
-- cookie, and user_id lets a password change end every other session of that user.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX password_resets_user_id_idx ON password_resets (user_id);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
);
CREATE INDEX api_keys_user_id_idx ON api_keys (user_id);

-- What the operator audits: failed log-ins, lock-outs, reset requests, password changes.
CREATE TABLE security_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at BIGINT NOT NULL,
    event TEXT NOT NULL,
    ip TEXT,
    email TEXT,
    user_id BIGINT
);
CREATE INDEX security_events_event_time_idx ON security_events (event, created_at);
