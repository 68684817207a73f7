//! The privileged helper's wire format: a delivery job in, a delivery result
//! out, as length-prefixed fields.
//!
//! Postern's own protocol (Postfix passes the same facts between qmgr and
//! local(8) as attribute lists, global/deliver_request.c). Reads no parameters.
//!
//! Format: a frame is a 4-byte big-endian length and that many bytes; inside,
//! every field is again a 4-byte big-endian length and its bytes, in a fixed
//! order. Numbers are decimal text. A frame is limited to [`MAX_FRAME`] bytes.
//!
//! Request: `postern-delivery-1`, agent (`local`|`virtual`), queue ID,
//! transport, nexthop, sender, arrival, client name, address, HELO, protocol,
//! recipient count, then per recipient index, address, has-orig (`0`|`1`),
//! orig; then the content.
//!
//! Response: `postern-result-1`, recipient count, then per recipient index,
//! outcome (`sent`|`deferred`|`bounced`), status code, reason, relay, detail,
//! forwarded count and the forwarded addresses.

use std::io::{self, Read, Write};
use std::sync::Arc;

use crate::mail::delivery::{
    ClientInfo, DeliveredPart, DeliveryJob, Forwarded, JobRecipient, RecipientResult,
};
use crate::mail::dsn::{Dsn, Outcome, StatusCode};

/// Largest frame accepted: a message at the default message_size_limit with
/// room for the envelope.
pub const MAX_FRAME: usize = 256 * 1024 * 1024;

const REQUEST_MAGIC: &str = "postern-delivery-1";
const RESPONSE_MAGIC: &str = "postern-result-1";

/// A frame that cannot be read or makes no sense.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("delivery helper I/O: {0}")]
    Io(#[from] io::Error),
    #[error("delivery helper frame of {0} bytes exceeds the limit")]
    TooLarge(usize),
    #[error("delivery helper protocol error: {0}")]
    Protocol(&'static str),
}

/// Which agent the helper runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {
    Local,
    Virtual,
}

/// Builds one frame from fields.
#[derive(Default)]
struct Fields(Vec<u8>);

impl Fields {
    fn put(&mut self, bytes: &[u8]) {
        self.0
            .extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        self.0.extend_from_slice(bytes);
    }
    fn text(&mut self, s: &str) {
        self.put(s.as_bytes());
    }
}

/// Reads fields back in order.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let short = WireError::Protocol("truncated field");
        let (len, rest) = self.0.split_first_chunk::<4>().ok_or(short)?;
        let len = u32::from_be_bytes(*len) as usize;
        if rest.len() < len {
            return Err(WireError::Protocol("truncated field"));
        }
        let (field, rest) = rest.split_at(len);
        self.0 = rest;
        Ok(field)
    }
    fn text(&mut self) -> Result<String, WireError> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| WireError::Protocol("not UTF-8"))
    }
    fn number<T: std::str::FromStr>(&mut self) -> Result<T, WireError> {
        self.text()?
            .parse()
            .map_err(|_| WireError::Protocol("bad number"))
    }
}

/// Writes one frame, length and body in one write (the peer wakes once).
fn write_frame(w: &mut impl Write, fields: Fields) -> Result<(), WireError> {
    let mut frame = Vec::with_capacity(4 + fields.0.len());
    frame.extend_from_slice(&(fields.0.len() as u32).to_be_bytes());
    frame.extend_from_slice(&fields.0);
    w.write_all(&frame)?;
    w.flush()?;
    Ok(())
}

/// The length of the first whole frame at the start of `buf` (its 4-byte
/// length included), or `None` while more bytes are needed.
pub fn complete_frame(buf: &[u8]) -> Result<Option<usize>, WireError> {
    let Some(len) = buf.first_chunk::<4>() else {
        return Ok(None);
    };
    let len = u32::from_be_bytes(*len) as usize;
    if len > MAX_FRAME {
        return Err(WireError::TooLarge(len));
    }
    Ok((buf.len() >= 4 + len).then_some(4 + len))
}

/// Reads one frame.
fn read_frame(r: &mut impl Read) -> Result<Vec<u8>, WireError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(WireError::TooLarge(len));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

/// Sends a job for `agent`.
pub fn write_request(w: &mut impl Write, agent: Agent, job: &DeliveryJob) -> Result<(), WireError> {
    let mut f = Fields::default();
    f.text(REQUEST_MAGIC);
    f.text(match agent {
        Agent::Local => "local",
        Agent::Virtual => "virtual",
    });
    for s in [&job.queue_id, &job.transport, &job.nexthop, &job.sender] {
        f.text(s);
    }
    f.text(&job.arrival.to_string());
    let c = &job.client;
    for s in [&c.name, &c.addr, &c.helo, &c.protocol] {
        f.text(s);
    }
    f.text(&job.recipients.len().to_string());
    for r in &job.recipients {
        f.text(&r.index.to_string());
        f.text(&r.address);
        f.text(if r.orig_rcpt.is_some() { "1" } else { "0" });
        f.text(r.orig_rcpt.as_deref().unwrap_or(""));
        f.text(if r.retry { "1" } else { "0" });
    }
    f.put(&job.content);
    write_frame(w, f)
}

/// Receives a job. DSN fields (NOTIFY, ORCPT, RET, ENVID) stay with qmgr: the
/// agents do not use them.
pub fn read_request(r: &mut impl Read) -> Result<(Agent, DeliveryJob), WireError> {
    let frame = read_frame(r)?;
    let mut c = Cursor(&frame);
    if c.text()? != REQUEST_MAGIC {
        return Err(WireError::Protocol("bad request magic"));
    }
    let agent = match c.text()?.as_str() {
        "local" => Agent::Local,
        "virtual" => Agent::Virtual,
        _ => return Err(WireError::Protocol("unknown agent")),
    };
    let (queue_id, transport, nexthop, sender) = (c.text()?, c.text()?, c.text()?, c.text()?);
    let arrival = c.number()?;
    let client = ClientInfo {
        name: c.text()?,
        addr: c.text()?,
        helo: c.text()?,
        protocol: c.text()?,
    };
    let count: usize = c.number()?;
    let mut recipients = Vec::with_capacity(count.min(10_000));
    for _ in 0..count {
        let index = c.number()?;
        let address = c.text()?;
        let has_orig = c.text()? == "1";
        let orig = c.text()?;
        let retry = c.text()? == "1";
        recipients.push(JobRecipient {
            index,
            address,
            orig_rcpt: has_orig.then_some(orig),
            notify: None,
            orcpt: None,
            retry,
        });
    }
    let content = Arc::new(c.bytes()?.to_vec());
    let job = DeliveryJob {
        queue_id,
        transport,
        nexthop,
        sender,
        arrival,
        active_since: 0.0,
        envid: None,
        ret: None,
        client,
        recipients,
        content,
    };
    Ok((agent, job))
}

/// Sends the results.
pub fn write_response(w: &mut impl Write, results: &[RecipientResult]) -> Result<(), WireError> {
    let mut f = Fields::default();
    f.text(RESPONSE_MAGIC);
    f.text(&results.len().to_string());
    for r in results {
        f.text(&r.index.to_string());
        let (kind, dsn) = match &r.outcome {
            Outcome::Delivered => ("sent", None),
            Outcome::Deferred(d) => ("deferred", Some(d)),
            Outcome::Bounced(d) => ("bounced", Some(d)),
        };
        f.text(kind);
        f.text(&dsn.map(|d| d.status.to_string()).unwrap_or_default());
        f.text(dsn.map(|d| d.reason.as_str()).unwrap_or(""));
        f.text(&r.relay);
        f.text(&r.detail);
        f.text(&r.forwarded.len().to_string());
        for a in &r.forwarded {
            f.text(&a.address);
            f.text(&a.sender);
            f.text(a.delivered_to.as_deref().unwrap_or(""));
        }
        f.text(&r.parts.len().to_string());
        for p in &r.parts {
            f.text(&p.address);
            f.text(&p.detail);
        }
    }
    write_frame(w, f)
}

/// Receives the results.
pub fn read_response(r: &mut impl Read) -> Result<Vec<RecipientResult>, WireError> {
    let frame = read_frame(r)?;
    let mut c = Cursor(&frame);
    if c.text()? != RESPONSE_MAGIC {
        return Err(WireError::Protocol("bad response magic"));
    }
    let count: usize = c.number()?;
    let mut out = Vec::with_capacity(count.min(10_000));
    for _ in 0..count {
        let index = c.number()?;
        let kind = c.text()?;
        let status = c.text()?;
        let reason = c.text()?;
        let dsn = || -> Result<Dsn, WireError> {
            let code = StatusCode::parse(&status).map_err(|_| WireError::Protocol("bad status"))?;
            Ok(Dsn::new(code, reason.clone()))
        };
        let outcome = match kind.as_str() {
            "sent" => Outcome::Delivered,
            "deferred" => Outcome::Deferred(dsn()?),
            "bounced" => Outcome::Bounced(dsn()?),
            _ => return Err(WireError::Protocol("unknown outcome")),
        };
        let relay = c.text()?;
        let detail = c.text()?;
        let n: usize = c.number()?;
        let mut forwarded = Vec::with_capacity(n.min(10_000));
        for _ in 0..n {
            let address = c.text()?;
            let sender = c.text()?;
            let delivered = c.text()?;
            forwarded.push(Forwarded {
                address,
                sender,
                delivered_to: (!delivered.is_empty()).then_some(delivered),
            });
        }
        let n: usize = c.number()?;
        let mut parts = Vec::with_capacity(n.min(10_000));
        for _ in 0..n {
            let address = c.text()?;
            let detail = c.text()?;
            parts.push(DeliveredPart { address, detail });
        }
        out.push(RecipientResult {
            index,
            outcome,
            relay,
            detail,
            forwarded,
            tls: None,
            parts,
            success: Default::default(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_and_result_round_trip() {
        let mut job = crate::local::tests::agent::job(&["a@x", "b@y"], b"Subject: s\n\nbody\0\n");
        job.recipients[1].orig_rcpt = Some(String::new());
        job.recipients[1].retry = true;
        let mut buf = Vec::new();
        write_request(&mut buf, Agent::Virtual, &job).unwrap();
        let (agent, back) = read_request(&mut buf.as_slice()).unwrap();
        assert_eq!(agent, Agent::Virtual);
        assert_eq!(back.recipients, job.recipients);
        assert_eq!(back.content, job.content);
        assert_eq!((back.queue_id, back.sender), (job.queue_id, job.sender));

        let results = vec![
            RecipientResult {
                index: 0,
                outcome: Outcome::Bounced(Dsn::new(
                    StatusCode::new(5, 1, 1),
                    "unknown user: \"a\"",
                )),
                relay: "local".into(),
                detail: "unknown user: \"a\"".into(),
                forwarded: vec![],
                tls: None,
                parts: Vec::new(),
                success: Default::default(),
            },
            RecipientResult {
                index: 1,
                outcome: Outcome::Delivered,
                relay: "local".into(),
                detail: "forwarded".into(),
                forwarded: vec![
                    Forwarded::plain("c@z", "s@x"),
                    Forwarded {
                        address: "d@w".into(),
                        sender: "owner-l@x".into(),
                        delivered_to: Some("l@x".into()),
                    },
                ],
                tls: None,
                parts: vec![DeliveredPart {
                    address: "e@y".into(),
                    detail: "delivered to maildir".into(),
                }],
                success: Default::default(),
            },
        ];
        let mut buf = Vec::new();
        write_response(&mut buf, &results).unwrap();
        assert_eq!(read_response(&mut buf.as_slice()).unwrap(), results);
        // A truncated frame is an error, not a panic.
        assert!(read_response(&mut &buf[..buf.len() - 3]).is_err());
    }
}
