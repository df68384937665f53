//! One module per page.

pub mod account;
pub mod auth;
pub mod billing;
pub mod compress;
pub mod history;
pub mod home;
pub mod job;
pub mod not_found;
pub mod pricing;
