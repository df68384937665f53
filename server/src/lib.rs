//! The Slimage server as a library, so that tests run the real router on port 0 with their own
//! database and storage. `main.rs` only parses the command line and calls [`cli::run`].
#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod api_jobs;
pub mod api_limits;
pub mod callbacks;
pub mod cli;
pub mod config;
pub mod csrf;
pub mod files;
pub mod health;
pub mod maintenance;
pub mod openapi;
pub mod source_url;
pub mod startup;
pub mod telemetry;
pub mod tinify;
pub mod uploads;
pub mod webhooks;
pub mod worker;
