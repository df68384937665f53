//! Everything server-side that server functions and HTTP handlers need (feature `ssr` only):
//! shared state, the database, storage, request ids and the HTTP form of [`crate::error::AppError`].

pub mod db;
pub mod http_error;
pub mod request_id;
pub mod secret;
pub mod state;
pub mod storage;
