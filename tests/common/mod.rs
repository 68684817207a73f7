//! Shared harness for Postern's integration tests: a test PKI (`certs`), real
//! Postfix instances as sending client or receiving server (`postfix`), and the
//! real peers and tools the tests drive (`tools`: swaks, openssl s_client, raw
//! SMTP, dnsmasq, smtp-sink, smtp-source). Each test file includes it with
//! `mod common;` and uses what it needs.
#![allow(dead_code)]

pub mod certs;
pub mod postfix;
pub mod tools;
