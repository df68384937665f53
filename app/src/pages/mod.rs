//! One module per page.

pub mod account;
pub mod auth;
pub mod billing;
pub mod home;
pub mod not_found;
pub mod pricing;
