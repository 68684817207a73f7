//! Helpers shared by the integration tests, one file per area; each test file
//! takes what it needs with `mod common;`.
#![allow(dead_code)]

pub mod daemon;
