//! Helpers with no mail knowledge: atomic file replacement and the like.

pub mod safe_file;
