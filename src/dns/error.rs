//! DNS errors, each naming the name, record type and server at fault.
//!
//! Mirrors: Postfix `dns.h` result codes (`DNS_NOTFOUND`, `DNS_RETRY`, `DNS_FAIL`,
//! `DNS_INVAL`) and the texts `dns_lookup.c` puts in its `why` buffer.
//! main.cf parameters: none.
//! RFCs: RFC 1035 section 4.1.1 (RCODE values), RFC 2308 section 2 (NXDOMAIN and
//! NODATA are both negative answers), RFC 6891 section 7 (FORMERR from servers
//! without EDNS).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use hickory_proto::rr::RecordType;

/// How a failed look-up should be treated, as Postfix's `DNS_*` codes: the smtp
/// client turns `NotFound` and `Fail` into bounces, `Retry` into a deferral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The name or the record does not exist (NXDOMAIN, NODATA): permanent.
    NotFound,
    /// The answer may come later (timeout, SERVFAIL, REFUSED, network error).
    Retry,
    /// The question itself is unanswerable (bad name, FORMERR, NOTIMP): permanent.
    Fail,
}

/// Why one exchange with one server gave no usable reply.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("no reply from {server} within {millis} ms")]
    Timeout { server: SocketAddr, millis: u128 },
    #[error("{server}: {source}")]
    Io {
        server: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("malformed reply from {server}: {reason}")]
    Malformed { server: SocketAddr, reason: String },
}

/// A failed look-up. Texts follow Postfix's, so that log lines and bounce reasons
/// read as an administrator knows them.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// NXDOMAIN: the name does not exist.
    #[error("Host or domain name not found. Name service error for name={name} type={rtype}: Host not found")]
    NxDomain { name: String, rtype: RecordType },
    /// NOERROR without a record of the asked type (RFC 2308 section 2.2).
    #[error("Host or domain name not found. Name service error for name={name} type={rtype}: Host found but no data record of requested type")]
    NoData { name: String, rtype: RecordType },
    #[error("Host or domain name not found. Name service error for name={name} type={rtype}: Host not found, try again (server {server} answered SERVFAIL)")]
    ServFail {
        name: String,
        rtype: RecordType,
        server: SocketAddr,
    },
    #[error("Name service error for name={name} type={rtype}: server {server} refused the query")]
    Refused {
        name: String,
        rtype: RecordType,
        server: SocketAddr,
    },
    /// FORMERR, NOTIMP or an RCODE this resolver does not know.
    #[error("Name service error for name={name} type={rtype}: server {server} answered {rcode}")]
    Rcode {
        name: String,
        rtype: RecordType,
        server: SocketAddr,
        rcode: String,
    },
    /// Every try at every server failed; `last` says how the last one did.
    #[error("Name service error for name={name} type={rtype}: Host not found, try again ({last})")]
    NoReply {
        name: String,
        rtype: RecordType,
        #[source]
        last: TransportError,
    },
    /// A CNAME chain longer than the limit, or one that loops.
    #[error("Name service error for name={name} type={rtype}: CNAME chain longer than {limit}")]
    CnameLoop {
        name: String,
        rtype: RecordType,
        limit: usize,
    },
    /// Not a valid domain name (RFC 1035 section 2.3.4 limits, bad label).
    #[error("bad domain name syntax: {name:?}: {reason}")]
    BadName { name: String, reason: String },
    #[error("no nameserver configured")]
    NoNameservers,
    #[error("{path}: cannot read: {source}")]
    ResolvConf {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl DnsError {
    /// Sorts the error the way Postfix's `dns_lookup()` return code does.
    pub fn severity(&self) -> Severity {
        match self {
            DnsError::NxDomain { .. } | DnsError::NoData { .. } => Severity::NotFound,
            DnsError::ServFail { .. }
            | DnsError::Refused { .. }
            | DnsError::NoReply { .. }
            | DnsError::NoNameservers
            | DnsError::ResolvConf { .. } => Severity::Retry,
            DnsError::Rcode { .. } | DnsError::CnameLoop { .. } | DnsError::BadName { .. } => {
                Severity::Fail
            }
        }
    }

    /// True when the mail should wait and be tried again (Postfix `DNS_RETRY`).
    pub fn is_temporary(&self) -> bool {
        self.severity() == Severity::Retry
    }

    /// True for NXDOMAIN and NODATA: the name or record does not exist.
    pub fn is_not_found(&self) -> bool {
        self.severity() == Severity::NotFound
    }
}
