//! Components shared by several pages.

pub mod faq;
pub mod form;
pub mod layout;
pub mod session;
