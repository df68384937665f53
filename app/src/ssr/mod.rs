//! Everything server-side that server functions and HTTP handlers need (feature `ssr` only):
//! shared state, the database, storage, accounts and sessions, request ids and the HTTP form of
//! [`crate::error::AppError`], plans, usage, Stripe billing, the job queue, uploads and job files.

pub mod accounts;
pub mod api_jobs;
pub mod api_keys;
pub mod archive;
pub mod billing;
pub mod db;
pub mod http_error;
pub mod job_files;
pub mod jobs;
pub mod mail;
pub mod password;
pub mod password_reset;
pub mod plans;
pub mod rate_limit;
pub mod request;
pub mod request_id;
pub mod retention;
pub mod secret;
pub mod security;
pub mod sessions;
pub mod state;
pub mod storage;
pub mod tokens;
pub mod uploads;
pub mod usage;
