//! Components shared by several pages.

pub mod faq;
pub mod layout;
