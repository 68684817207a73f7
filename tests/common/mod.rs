//! Shared harness for Postern's integration tests: a test PKI (`certs`), real
//! Postfix instances as sending client or receiving server (`postfix`), and the
//! real peers and tools the tests drive (`tools`: swaks, openssl s_client, raw
//! SMTP, lettre, dnsmasq, smtp-sink, smtp-source, posttls-finger, pflogsumm),
//! Postern itself as a daemon on a temporary config (`daemon`), and the
//! sending scenarios (`sending`: a Postfix receiver, dnsmasq, and Postern or
//! Postfix as the sender, with their delivery log lines and queue).
//! Each test file includes it with `mod common;` and uses what it needs.
//!
//! Typical use (Postfix relaying to Postern over TLS with a client certificate):
//!
//! ```ignore
//! let pki = certs::Pki::new();
//! // ... start Postern on `port` with pki.server and relay_clientcerts ...
//! let mut tx = postfix::PostfixInstance::new(postfix::Role::sender_to(port));
//! tx.client_tls(&pki, "encrypt", true);
//! tx.start();
//! let id = tx.send("a@test.example", &["b@elsewhere.example"], "Subject: x\n\nbody\n");
//! assert_eq!(tx.wait_delivered(&id, Duration::from_secs(30)).status, "sent");
//! ```
//!
//! Postfix instances and `smtp-sink` need root (as in CI); tools that are missing
//! fail the test with the Debian package to install.
#![allow(dead_code)]

pub mod certs;
pub mod daemon;
pub mod postfix;
pub mod sending;
pub mod tools;
