//! The blocking stub resolver: builds the query, tries each nameserver in turn
//! with timeouts, falls back to TCP on truncation, maps RCODEs to typed errors,
//! caches, and follows CNAME chains.
//!
//! Mirrors: Postfix `dns_lookup.c` (`dns_query()`, `dns_lookup_x()`: CNAME
//! following, RCODE -> `DNS_NOTFOUND`/`DNS_RETRY`/`DNS_FAIL`, the AD bit recorded
//! per answer for DANE) over libc `res_send()` (server rotation and retries).
//! main.cf parameters: none directly; `ResolverSettings` carries what
//! `smtp_dns_support_level` decides (AD and DO bits).
//! RFCs: RFC 1035 sections 4.1 and 7 (message, resolver behaviour), RFC 1034
//! section 3.6.2 (CNAME), RFC 2308 (negative answers and their TTL), RFC 6891
//! sections 6.2.5 and 7 (EDNS0 payload, retry without EDNS on FORMERR), RFC 6840
//! section 5.7 (AD set in queries), RFC 4035 section 3.2.3 (AD in replies), RFC 7766
//! (TCP after TC).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::cache::{Cache, Cached};
use super::error::{DnsError, TransportError};
use super::settings::ResolverSettings;
use super::transport::{exchange_tcp, exchange_udp};

/// EDNS0 UDP payload we advertise: the DNS Flag Day 2020 value, which avoids IP
/// fragmentation on common paths.
pub const EDNS_PAYLOAD: u16 = 1232;
/// CNAME hops followed before giving up; Postfix `dns_lookup.c` allows 10.
const MAX_CNAME_HOPS: usize = 10;

/// One NOERROR reply to one question, as cached.
#[derive(Debug, Clone)]
pub struct Response {
    /// The question's type.
    pub rtype: RecordType,
    /// The answer section (records of the type and any CNAMEs leading to them).
    pub answers: Vec<Record>,
    /// The AD bit of the reply: the server vouches that it validated every RRset
    /// (RFC 4035 section 3.2.3). Without DNSSEC on the server this is false.
    pub authentic: bool,
}

impl Response {
    /// True when no record of the asked type came back (RFC 2308 NODATA, or a CNAME
    /// whose target was not answered).
    pub fn is_nodata(&self) -> bool {
        !self.answers.iter().any(|r| r.record_type() == self.rtype)
    }
}

/// The records of one type for a name, after CNAMEs were followed.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// The name the records belong to: the query name, or the end of its CNAME chain.
    pub canonical: Name,
    /// Records of the asked type, in the order the server gave them.
    pub records: Vec<Record>,
    /// True only when every reply on the way had the AD bit set.
    pub authentic: bool,
}

/// A stub resolver. It owns its cache, so a look-up takes `&mut self`: give each
/// smtp worker thread its own (see `mod.rs` for why).
#[derive(Debug)]
pub struct Resolver {
    settings: ResolverSettings,
    cache: Cache,
}

impl Resolver {
    pub fn new(settings: ResolverSettings) -> Self {
        let cache = Cache::new(settings.cache_size);
        Resolver { settings, cache }
    }

    pub fn settings(&self) -> &ResolverSettings {
        &self.settings
    }

    /// Records of `rtype` for `name`, following CNAMEs (in the reply, and by asking
    /// again for a target the server did not resolve, as `dns_lookup.c` does).
    /// NODATA and NXDOMAIN are errors whose severity is `NotFound`.
    pub fn lookup(&mut self, name: &str, rtype: RecordType) -> Result<Lookup, DnsError> {
        let mut current = parse_name(name)?;
        let mut authentic = true;
        let mut hops = 0;
        loop {
            let response = self.query(&current, rtype)?;
            authentic &= response.authentic;
            let asked = current.clone();
            loop {
                let records: Vec<Record> = response
                    .answers
                    .iter()
                    .filter(|r| r.record_type() == rtype && r.name == current)
                    .cloned()
                    .collect();
                if !records.is_empty() {
                    return Ok(Lookup {
                        canonical: current,
                        records,
                        authentic,
                    });
                }
                let target = response.answers.iter().find_map(|r| match &r.data {
                    RData::CNAME(cname) if r.name == current && rtype != RecordType::CNAME => {
                        Some(cname.0.clone())
                    }
                    _ => None,
                });
                match target {
                    Some(target) => {
                        hops += 1;
                        if hops > MAX_CNAME_HOPS {
                            return Err(DnsError::CnameLoop {
                                name: display_name(&parse_name(name)?),
                                rtype,
                                limit: MAX_CNAME_HOPS,
                            });
                        }
                        current = target;
                    }
                    None => break,
                }
            }
            if current == asked {
                return Err(DnsError::NoData {
                    name: display_name(&current),
                    rtype,
                });
            }
        }
    }

    /// One question, answered from the cache or the nameservers. NXDOMAIN is an
    /// error; NODATA is an `Ok` response without records of the type.
    pub fn query(&mut self, name: &Name, rtype: RecordType) -> Result<Response, DnsError> {
        match self.cache.get(name, rtype, Instant::now()) {
            Some(Cached::Reply(response)) => return Ok(response),
            Some(Cached::NxDomain { .. }) => {
                return Err(DnsError::NxDomain {
                    name: display_name(name),
                    rtype,
                })
            }
            None => {}
        }
        let (reply, server) = self.ask(name, rtype)?;
        let authentic = reply.metadata.authentic_data;
        match reply.metadata.response_code {
            ResponseCode::NoError => {
                let answers: Vec<Record> = reply
                    .answers
                    .iter()
                    .filter(|r| r.dns_class == DNSClass::IN)
                    .cloned()
                    .collect();
                let response = Response {
                    rtype,
                    answers,
                    authentic,
                };
                let ttl = if response.is_nodata() {
                    self.negative_ttl(&reply)
                } else {
                    positive_ttl(&response.answers)
                };
                let value = Cached::Reply(response.clone());
                self.cache.put(name, rtype, value, ttl, Instant::now());
                Ok(response)
            }
            ResponseCode::NXDomain => {
                let ttl = self.negative_ttl(&reply);
                let value = Cached::NxDomain { authentic };
                self.cache.put(name, rtype, value, ttl, Instant::now());
                Err(DnsError::NxDomain {
                    name: display_name(name),
                    rtype,
                })
            }
            other => Err(rcode_error(name, rtype, server, other)),
        }
    }

    /// Asks the nameservers in order, `attempts` rounds, until one gives a final
    /// answer (NOERROR or NXDOMAIN). SERVFAIL, REFUSED and other RCODEs move on to
    /// the next server, as `res_send()` does; the last such answer is returned if
    /// no server gives a final one.
    fn ask(&self, name: &Name, rtype: RecordType) -> Result<(Message, SocketAddr), DnsError> {
        let servers: Vec<SocketAddr> = self
            .settings
            .nameservers
            .iter()
            .map(|ip| SocketAddr::new(*ip, self.settings.port))
            .collect();
        if servers.is_empty() {
            return Err(DnsError::NoNameservers);
        }
        let mut last_rcode: Option<(Message, SocketAddr)> = None;
        let mut last_transport: Option<TransportError> = None;
        for _ in 0..self.settings.attempts.max(1) {
            for &server in &servers {
                match self.try_server(server, name, rtype) {
                    Ok(reply) => match reply.metadata.response_code {
                        ResponseCode::NoError | ResponseCode::NXDomain => {
                            return Ok((reply, server))
                        }
                        _ => last_rcode = Some((reply, server)),
                    },
                    Err(e) => last_transport = Some(e),
                }
            }
        }
        // A server's own answer says more than another server's silence.
        if let Some(found) = last_rcode {
            return Ok(found);
        }
        Err(DnsError::NoReply {
            name: display_name(name),
            rtype,
            last: last_transport.unwrap_or(TransportError::Timeout {
                server: servers[0],
                millis: self.settings.timeout.as_millis(),
            }),
        })
    }

    /// One try at one server: UDP, then TCP if the reply was truncated. A FORMERR
    /// to an EDNS query is retried without EDNS (RFC 6891 section 7).
    fn try_server(
        &self,
        server: SocketAddr,
        name: &Name,
        rtype: RecordType,
    ) -> Result<Message, TransportError> {
        let reply = self.exchange(server, name, rtype, self.settings.edns)?;
        if self.settings.edns
            && reply.metadata.response_code == ResponseCode::FormErr
            && reply.edns.is_none()
        {
            return self.exchange(server, name, rtype, false);
        }
        Ok(reply)
    }

    fn exchange(
        &self,
        server: SocketAddr,
        name: &Name,
        rtype: RecordType,
        edns: bool,
    ) -> Result<Message, TransportError> {
        let (wire, id, question) = self.build_query(server, name, rtype, edns)?;
        let timeout = self.settings.timeout;
        let reply = exchange_udp(server, &wire, id, &question, timeout)?;
        if reply.metadata.truncation {
            return exchange_tcp(server, &wire, id, &question, timeout);
        }
        Ok(reply)
    }

    /// A recursive query with a random id (`Message::query()` draws it from a
    /// CSPRNG, RFC 5452 section 9.2), the AD bit if configured (RFC 6840 section
    /// 5.7) and an EDNS0 OPT record with our payload size and the DO bit.
    fn build_query(
        &self,
        server: SocketAddr,
        name: &Name,
        rtype: RecordType,
        edns: bool,
    ) -> Result<(Vec<u8>, u16, Query), TransportError> {
        let question = Query::query(name.clone(), rtype);
        let mut msg = Message::query();
        msg.metadata.recursion_desired = true;
        msg.metadata.authentic_data = self.settings.set_ad;
        msg.add_query(question.clone());
        if edns {
            let mut opt = Edns::new();
            opt.set_max_payload(EDNS_PAYLOAD);
            opt.set_dnssec_ok(self.settings.set_do);
            msg.set_edns(opt);
        }
        let wire = msg.to_vec().map_err(|e| TransportError::Malformed {
            server,
            reason: format!("cannot encode query for {name}: {e}"),
        })?;
        Ok((wire, msg.metadata.id, question))
    }

    /// RFC 2308 section 5: a negative answer lives min(SOA TTL, SOA MINIMUM); with
    /// no SOA in the authority section, the configured short time.
    fn negative_ttl(&self, reply: &Message) -> Duration {
        reply
            .authorities
            .iter()
            .find_map(|r| match &r.data {
                RData::SOA(soa) => Some(Duration::from_secs(u64::from(r.ttl.min(soa.minimum)))),
                _ => None,
            })
            .unwrap_or(self.settings.negative_ttl)
    }
}

/// The smallest TTL in an answer, capped to 31 bits (RFC 2181 section 8: a TTL with
/// the top bit set is taken as zero).
fn positive_ttl(answers: &[Record]) -> Duration {
    let ttl = answers
        .iter()
        .map(|r| if r.ttl > i32::MAX as u32 { 0 } else { r.ttl })
        .min()
        .unwrap_or(0);
    Duration::from_secs(u64::from(ttl))
}

fn rcode_error(
    name: &Name,
    rtype: RecordType,
    server: SocketAddr,
    rcode: ResponseCode,
) -> DnsError {
    let name = display_name(name);
    match rcode {
        ResponseCode::ServFail => DnsError::ServFail {
            name,
            rtype,
            server,
        },
        ResponseCode::Refused => DnsError::Refused {
            name,
            rtype,
            server,
        },
        other => DnsError::Rcode {
            name,
            rtype,
            server,
            rcode: other.to_string(),
        },
    }
}

/// Parses a domain or host name as given in an address or nexthop ("example.com",
/// "example.com.", an IDN in UTF-8) into an absolute name.
pub fn parse_name(name: &str) -> Result<Name, DnsError> {
    let bad = |reason: String| DnsError::BadName {
        name: name.to_string(),
        reason,
    };
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() {
        return Err(bad("empty name".to_string()));
    }
    let mut parsed = Name::from_utf8(trimmed).map_err(|e| bad(e.to_string()))?;
    parsed.set_fqdn(true);
    Ok(parsed)
}

/// A name as Postfix logs it: ASCII, no trailing dot.
pub fn display_name(name: &Name) -> String {
    let text = name.to_ascii();
    match text.strip_suffix('.') {
        Some(stripped) if !stripped.is_empty() => stripped.to_string(),
        _ => text,
    }
}
