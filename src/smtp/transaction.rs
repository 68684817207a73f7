//! One mail transaction on an open session: MAIL FROM with SIZE, BODY and DSN
//! parameters, RCPT TO per recipient, DATA with the dot-stuffed content, all
//! pipelined when the server offers PIPELINING; one result per recipient.
//!
//! Mirrors Postfix smtp_proto.c `smtp_loop()` (command batching under
//! PIPELINING, per-recipient RCPT replies, no DATA content when no recipient
//! was accepted, the SIZE pre-check "message size %lu exceeds size limit %.0f
//! of server %s") and smtp_rcpt.c (per-recipient status). Reads nothing itself.
//! RFCs: RFC 5321 sections 3.3 and 4.5.2 (transparency), RFC 2920
//! (PIPELINING), RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 3461 (DSN).

use super::conn::IoTrouble;
use super::reply::Features;
use super::session::Session;
use super::settings::Settings;
use super::trouble::{self, Command, Failure, Stage};
use crate::mail::delivery::{DeliveryJob, JobRecipient};

/// What became of one recipient in this transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptStatus {
    /// Accepted with the server's final reply text.
    Sent(String),
    Failed(Failure),
}

/// The transaction's results (same order as the recipients given) and whether
/// the connection is still in a state to be reused.
pub struct Outcome {
    pub results: Vec<RcptStatus>,
    pub reusable: bool,
}

/// `MAIL FROM:<sender>` with the parameters the server understands.
pub fn mail_command(job: &DeliveryJob, f: &Features, size: usize) -> String {
    let mut cmd = format!("MAIL FROM:<{}>", job.sender);
    if f.size.is_some() {
        cmd.push_str(&format!(" SIZE={size}"));
    }
    if f.eightbitmime && job.content.iter().any(|b| *b >= 0x80) {
        cmd.push_str(" BODY=8BITMIME");
    }
    if f.smtputf8 && needs_smtputf8(job) {
        cmd.push_str(" SMTPUTF8");
    }
    if f.dsn {
        if let Some(ret) = job.ret {
            cmd.push_str(&format!(" RET={}", ret.as_str()));
        }
        if let Some(envid) = &job.envid {
            cmd.push_str(&format!(" ENVID={}", crate::mail::dsn::xtext_encode(envid)));
        }
    }
    cmd
}

/// An envelope address that is not ASCII needs SMTPUTF8 (RFC 6531 section
/// 3.4), as Postfix's smtp_proto.c decides from the envelope.
pub fn needs_smtputf8(job: &DeliveryJob) -> bool {
    !job.sender.is_ascii() || job.recipients.iter().any(|r| !r.address.is_ascii())
}

/// `RCPT TO:<addr>` with NOTIFY and ORCPT when the server offers DSN.
pub fn rcpt_command(rcpt: &JobRecipient, f: &Features) -> String {
    let mut cmd = format!("RCPT TO:<{}>", rcpt.address);
    if f.dsn {
        if let Some(n) = &rcpt.notify {
            cmd.push_str(&format!(" NOTIFY={n}"));
        }
        if let Some(o) = &rcpt.orcpt {
            cmd.push_str(&format!(" ORCPT={o}"));
        }
    }
    cmd
}

/// The content as it goes on the wire: CRLF line ends, leading dots doubled,
/// ended by `.` on a line of its own (RFC 5321 section 4.5.2).
pub fn dot_stuff(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + content.len() / 50 + 8);
    let mut rest = content;
    while !rest.is_empty() {
        let (line, ended, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], true, &rest[i + 1..]),
            None => (rest, false, &rest[rest.len()..]),
        };
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        // A line ended by CRLF keeps its CR; a bare LF and the unended last
        // line get a whole CRLF (a CR there is content, not a line end).
        if ended && line.last() == Some(&b'\r') {
            out.push(b'\n');
        } else {
            out.extend_from_slice(b"\r\n");
        }
        rest = next;
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// The end (exclusive) of the group of commands sent from `index` on before
/// replies are read: with PIPELINING everything up to and including DATA
/// (RFC 2920 section 3.1: DATA ends a group), otherwise one command.
pub fn batch_end(index: usize, count: usize, pipelining: bool) -> usize {
    if pipelining {
        count
    } else {
        (index + 1).min(count)
    }
}

/// Runs the transaction for `rcpts`.
pub fn run(
    session: &mut Session,
    settings: &Settings,
    job: &DeliveryJob,
    rcpts: &[&JobRecipient],
) -> Outcome {
    let namaddr = session.peer.namaddr();
    let all = |f: Failure, reusable: bool| Outcome {
        results: rcpts
            .iter()
            .map(|_| RcptStatus::Failed(f.clone()))
            .collect(),
        reusable,
    };
    let body = dot_stuff(&job.content);
    let size = job.content.len();
    if let Some(limit) = session.features.size.filter(|l| *l > 0) {
        if size as u64 > limit {
            return all(trouble::too_big(size as u64, limit, &namaddr), true);
        }
    }
    if needs_smtputf8(job) && !session.features.smtputf8 {
        return all(trouble::smtputf8_not_offered(&namaddr), true);
    }
    let mut commands = vec![mail_command(job, &session.features, size)];
    commands.extend(rcpts.iter().map(|r| rcpt_command(r, &session.features)));
    commands.push("DATA".into());
    let pipelining = session.features.pipelining;

    // Replies are read in command order: MAIL, RCPT..., DATA.
    let mut results: Vec<Option<RcptStatus>> = vec![None; rcpts.len()];
    let mut accepted = 0usize;
    let mut sent_upto = 0usize;
    let io_fail = |t: &IoTrouble, stage: Stage| trouble::io(&namaddr, t, stage);
    for index in 0..commands.len() {
        let stage = match index {
            0 => Stage::Mail,
            i if i == commands.len() - 1 => Stage::Data,
            _ => Stage::Rcpt,
        };
        if index >= sent_upto {
            // Without PIPELINING stop early: no RCPT after a failed MAIL, no DATA
            // without an accepted recipient.
            if !pipelining
                && index > 0
                && (results.iter().all(|r| r.is_some()) || (stage == Stage::Data && accepted == 0))
            {
                break;
            }
            let batch = &commands[index..batch_end(index, commands.len(), pipelining)];
            let mut wire = String::new();
            for c in batch {
                wire.push_str(c);
                wire.push_str("\r\n");
            }
            let timeout = if pipelining {
                settings.mail_timeout
            } else {
                timeout_of(settings, stage)
            };
            if let Err(t) = session
                .conn
                .write_all(wire.as_bytes(), timeout)
                .and_then(|_| session.conn.flush())
            {
                return all(io_fail(&t, stage), false);
            }
            sent_upto = index + batch.len();
        }
        let reply = match session.conn.read_reply(timeout_of(settings, stage)) {
            Ok(r) => r,
            Err(t) => return pending_fail(results, io_fail(&t, stage)),
        };
        match stage {
            Stage::Mail => {
                if !reply.is_positive() {
                    let f = trouble::said(&namaddr, &reply, Command::Mail);
                    // Pipelined RCPT and DATA replies still have to be read.
                    for r in results.iter_mut() {
                        *r = Some(RcptStatus::Failed(f.clone()));
                    }
                }
            }
            Stage::Rcpt => {
                let i = index - 1;
                if results[i].is_none() {
                    if reply.is_positive() {
                        accepted += 1;
                    } else {
                        results[i] = Some(RcptStatus::Failed(trouble::said(
                            &namaddr,
                            &reply,
                            Command::Rcpt,
                        )));
                    }
                }
            }
            _ => {
                if accepted == 0 {
                    if reply.code == 354 {
                        // Nothing to send: end the (empty) message and forget it.
                        let _ = session.conn.write_all(b".\r\n", settings.data_done_timeout);
                        let _ = session.conn.read_reply(settings.data_done_timeout);
                    }
                    return finish(results, true);
                }
                if reply.code != 354 {
                    let f = trouble::said(&namaddr, &reply, Command::Data);
                    return finish(fill(results, RcptStatus::Failed(f)), true);
                }
            }
        }
    }
    if accepted == 0 {
        return finish(results, !pipelining || sent_upto < commands.len());
    }
    if let Err(t) = session
        .conn
        .write_all(&body, settings.data_xfer_timeout)
        .and_then(|_| session.conn.flush())
    {
        return pending_fail(results, io_fail(&t, Stage::Body));
    }
    match session.conn.read_reply(settings.data_done_timeout) {
        Ok(reply) if reply.is_positive() => {
            finish(fill(results, RcptStatus::Sent(reply.text())), true)
        }
        Ok(reply) => {
            let f = trouble::said(&namaddr, &reply, Command::EndOfData);
            finish(fill(results, RcptStatus::Failed(f)), true)
        }
        Err(t) => pending_fail(results, io_fail(&t, Stage::EndOfData)),
    }
}

fn timeout_of(s: &Settings, stage: Stage) -> std::time::Duration {
    match stage {
        Stage::Mail => s.mail_timeout,
        Stage::Rcpt => s.rcpt_timeout,
        Stage::Data => s.data_init_timeout,
        _ => s.data_done_timeout,
    }
}

/// Recipients still without a result get `status`.
fn fill(results: Vec<Option<RcptStatus>>, status: RcptStatus) -> Vec<Option<RcptStatus>> {
    results
        .into_iter()
        .map(|r| r.or_else(|| Some(status.clone())))
        .collect()
}

fn finish(results: Vec<Option<RcptStatus>>, reusable: bool) -> Outcome {
    Outcome {
        results: results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    RcptStatus::Failed(Failure::new(
                        crate::mail::dsn::StatusCode::new(4, 3, 0),
                        "smtp client gave no status",
                    ))
                })
            })
            .collect(),
        reusable,
    }
}

/// The connection broke: recipients without a result get the I/O failure.
fn pending_fail(results: Vec<Option<RcptStatus>>, f: Failure) -> Outcome {
    finish(fill(results, RcptStatus::Failed(f)), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffing() {
        assert_eq!(dot_stuff(b"a\n.b\n"), b"a\r\n..b\r\n.\r\n");
        assert_eq!(dot_stuff(b".\r\nx"), b"..\r\nx\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b".\r\n");
        assert_eq!(dot_stuff(b"a\r\n"), b"a\r\n.\r\n");
        assert_eq!(dot_stuff(b"a\r"), b"a\r\r\n.\r\n");
        assert_eq!(dot_stuff(b"\n\n.\n"), b"\r\n\r\n..\r\n.\r\n");
        assert_eq!(dot_stuff(b"a\rb\r\n.."), b"a\rb\r\n...\r\n.\r\n");
    }

    fn job(sender: &str, rcpt: &str) -> DeliveryJob {
        DeliveryJob {
            queue_id: "5BTQ".into(),
            transport: "smtp".into(),
            nexthop: "example.com".into(),
            sender: sender.into(),
            arrival: 0,
            active_since: 0.0,
            envid: None,
            ret: None,
            client: Default::default(),
            recipients: vec![JobRecipient {
                index: 0,
                address: rcpt.into(),
                orig_rcpt: None,
                notify: None,
                orcpt: None,
                retry: false,
            }],
            content: std::sync::Arc::new(Vec::new()),
        }
    }

    #[test]
    fn dsn_size_and_body_parameters() {
        let mut j = job("s@example.com", "r@example.net");
        j.ret = Some(crate::mail::dsn::Ret::Hdrs);
        j.envid = Some("id 1".into());
        j.recipients[0].notify = Some(crate::mail::dsn::Notify::parse("SUCCESS,DELAY").unwrap());
        j.recipients[0].orcpt =
            Some(crate::mail::dsn::OrigRcpt::parse("rfc822;o+2Bx@example.net").unwrap());
        j.content = std::sync::Arc::new("Subject: caf\u{e9}\n\nx\n".as_bytes().to_vec());
        let plain = Features::default();
        assert_eq!(mail_command(&j, &plain, 42), "MAIL FROM:<s@example.com>");
        assert_eq!(
            rcpt_command(&j.recipients[0], &plain),
            "RCPT TO:<r@example.net>"
        );
        let esmtp = Features {
            esmtp: true,
            dsn: true,
            eightbitmime: true,
            size: Some(0),
            ..Features::default()
        };
        assert_eq!(
            mail_command(&j, &esmtp, 42),
            "MAIL FROM:<s@example.com> SIZE=42 BODY=8BITMIME RET=HDRS ENVID=id+201"
        );
        assert_eq!(
            rcpt_command(&j.recipients[0], &esmtp),
            "RCPT TO:<r@example.net> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;o+2Bx@example.net"
        );
    }

    #[test]
    fn smtputf8_from_the_envelope() {
        assert!(!needs_smtputf8(&job("a@example.com", "b@example.net")));
        assert!(needs_smtputf8(&job("jörg@example.com", "b@example.net")));
        assert!(needs_smtputf8(&job("", "用户@例子.广告")));
    }

    #[test]
    fn pipelining_groups() {
        let cmds: Vec<String> = ["MAIL FROM:<a>", "RCPT TO:<b>", "RCPT TO:<c>", "DATA"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // MAIL, RCPT, RCPT, DATA in one write with PIPELINING, else one by one.
        assert_eq!(batch_end(0, cmds.len(), true), 4);
        assert_eq!(batch_end(0, cmds.len(), false), 1);
        assert_eq!(batch_end(3, cmds.len(), false), 4);
    }
}
