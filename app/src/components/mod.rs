//! Components shared by several pages.

pub mod compressor;
pub mod faq;
pub mod form;
pub mod layout;
pub mod results;
pub mod session;
