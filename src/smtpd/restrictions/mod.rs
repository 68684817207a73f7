//! TEMPORARY stand-in: the lead replaces it with the real module at merge.
//!
//! Only what smtpd needs to build and test: relay is allowed when the client is
//! in `mynetworks` or the recipient domain is in `mydestination`, else
//! `554 5.7.1 <rcpt>: Relay access denied` (Postfix smtpd_check.c
//! reject_unauth_destination). Reads `mynetworks`, `mydestination`.
//! RFC 5321 section 3.6 (relaying).

use crate::config::Config;
use crate::mail::dsn::StatusCode;
use crate::smtpd::reply::Reply;
use crate::tls::TlsFacts;
use ipnet::IpNet;
use std::net::IpAddr;
use thiserror::Error;

/// A restriction list that cannot be used.
#[derive(Debug, Error)]
pub enum RestrictionError {
    #[error("mynetworks: bad network {0:?}")]
    BadNetwork(String),
}

/// Where in the SMTP dialogue a check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    Connect,
    Helo,
    Mail,
    Rcpt,
    Data,
    EndOfData,
    Etrn,
    Vrfy,
}

/// What the session knows when it asks.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub client_name: &'a str,
    pub client_addr: IpAddr,
    pub helo: Option<&'a str>,
    /// `""` is the null sender.
    pub sender: Option<&'a str>,
    pub recipient: Option<&'a str>,
    pub protocol: &'a str,
    pub tls: Option<&'a TlsFacts>,
    pub pipelining_violation: bool,
    pub recipient_count: usize,
}

/// The answer of one check, with reject_warning replies for warn_if_reject.
#[derive(Debug, Clone)]
pub struct Decision {
    pub verdict: Verdict,
    pub warnings: Vec<Reply>,
}

#[derive(Debug, Clone)]
pub enum Verdict {
    Continue,
    Reject(Reply),
    Defer(Reply),
    Hold(String),
    Discard(String),
}

/// The stand-in restrictions.
#[derive(Debug)]
pub struct Restrictions {
    networks: Vec<IpNet>,
    destinations: Vec<String>,
}

impl Restrictions {
    pub fn new(cfg: &Config) -> Result<Restrictions, RestrictionError> {
        let mut networks = Vec::new();
        for n in cfg.get_list("mynetworks") {
            let n = n.replace(['[', ']'], "");
            let net = match n.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => match n.parse::<IpAddr>() {
                    Ok(a) => IpNet::from(a),
                    Err(_) => return Err(RestrictionError::BadNetwork(n)),
                },
            };
            networks.push(net);
        }
        let destinations = cfg
            .get_list("mydestination")
            .into_iter()
            .map(|d| d.to_ascii_lowercase())
            .collect();
        Ok(Restrictions {
            networks,
            destinations,
        })
    }

    pub fn in_mynetworks(&self, addr: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(&addr))
    }

    pub fn check(&self, point: Checkpoint, facts: &Facts) -> Decision {
        let verdict = match (point, facts.recipient) {
            (Checkpoint::Rcpt, Some(rcpt)) => {
                let domain = rcpt.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
                let local = domain
                    .as_deref()
                    .is_some_and(|d| self.destinations.iter().any(|x| x == d));
                if local || self.in_mynetworks(facts.client_addr) {
                    Verdict::Continue
                } else {
                    Verdict::Reject(Reply::new(
                        554,
                        Some(StatusCode::new(5, 7, 1)),
                        format!("<{rcpt}>: Relay access denied"),
                    ))
                }
            }
            _ => Verdict::Continue,
        };
        Decision {
            verdict,
            warnings: Vec::new(),
        }
    }
}
