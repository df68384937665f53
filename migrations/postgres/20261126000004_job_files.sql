-- Files of jobs: when they were deleted (retention passed, the owner deleted the job, or the
-- storage quota needed room; the row stays for the history with its sizes), and the visitor
-- session a job started by someone not signed in belongs to. `task_locks` lets one process of
-- many run a periodic task (the clean-up) at a time: a lease taken with one conditional UPDATE.

ALTER TABLE jobs ADD COLUMN files_deleted_at BIGINT;
ALTER TABLE jobs ADD COLUMN visitor_token TEXT;
CREATE INDEX jobs_expires_at_idx ON jobs (expires_at);
CREATE INDEX jobs_visitor_ip_idx ON jobs (visitor_ip, created_at);

CREATE TABLE task_locks (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
INSERT INTO task_locks (name, holder, expires_at) VALUES ('cleanup', '', 0);
