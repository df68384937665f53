//! Slimage's compression engine.
//!
//! The engine knows nothing of users, plans, HTTP or databases: it takes the bytes of an image and
//! returns smaller bytes with a report, or a typed error. The codecs arrive with their own issue;
//! what lives here now is the part every caller already relies on: recognising what a file is from
//! its bytes, never from its name.
#![forbid(unsafe_code)]

mod sniff;

pub use sniff::{sniff_format, ImageFormat};
