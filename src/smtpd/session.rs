//! One SMTP session: greeting, the command loop with error counting and
//! timeouts, dispatch to one file per verb, and the log lines that frame a
//! connection (`connect from`, `lost connection after`, `disconnect from ... commands=N`).
//!
//! Mirrors Postfix smtpd.c `smtpd_proto` (command loop, `smtpd_hard_error_limit`,
//! `smtpd_junk_command_limit`, "too many errors", "timeout after", "lost
//! connection after", the Postfix 3.x per-command counters) and smtpd_chat.c
//! (replies, `smtpd_soft_error_limit` sleeps). Reads the parameters of
//! `settings.rs`. Implements RFC 5321 sections 3.1, 4.1.4 (command order), 4.2
//! (replies), 4.5.3.2 (timeouts); RFC 2920 (pipelining detection).

use super::bdat::BdatReader;
use super::command::{self, Command, ParseOptions};
use super::conn::Conn;
use super::line::{self, BareNewline, LineError, LineLimits};
use super::peer::Client;
use super::reply::{self, Reply};
use super::restrictions::{Checkpoint, Decision, Facts, Verdict};
use super::service::SmtpdService;
use super::{bdat_cmd, data_cmd, helo, mail, misc, noop, quit, rcpt, rset, starttls, vrfy};
use crate::mail::address::Path;
use crate::mail::envelope::{MailParams, Recipient};
use crate::maps::MapList;
use crate::queue::QueueId;
use crate::tls::TlsFacts;
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};

/// What the loop does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    Continue,
    Close,
}

/// The mail transaction between MAIL and the end of DATA (or RSET).
pub(super) struct Transaction {
    pub sender: Path,
    pub params: MailParams,
    pub rcpts: Vec<Recipient>,
    /// Allocated at the first accepted RCPT, as Postfix opens its queue file then.
    pub queue_id: Option<QueueId>,
    pub hold: Option<String>,
    pub discard: Option<String>,
    /// BDAT in progress: the reader and the content so far.
    pub bdat: Option<(BdatReader, Vec<u8>)>,
}

impl Transaction {
    pub fn new(sender: Path, params: MailParams) -> Transaction {
        Transaction {
            sender,
            params,
            rcpts: Vec::new(),
            queue_id: None,
            hold: None,
            discard: None,
            bdat: None,
        }
    }
}

/// Postfix 3.x command counters, in smtpd.c's command-table order.
const COUNTED: [&str; 13] = [
    "helo", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "bdat", "rset", "noop", "vrfy",
    "etrn", "quit",
];

/// Counters for the `disconnect from` line.
#[derive(Debug, Default)]
pub(super) struct Stats {
    /// (ok, total) per `COUNTED` entry, then unknown.
    counts: [(u32, u32); 14],
}

impl Stats {
    pub fn count(&mut self, verb: &str, ok: bool) {
        let i = COUNTED.iter().position(|v| *v == verb).unwrap_or(13);
        if let Some(c) = self.counts.get_mut(i) {
            c.1 += 1;
            if ok {
                c.0 += 1;
            }
        }
    }

    /// ` ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4`.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let (mut ok, mut total) = (0, 0);
        let names = COUNTED.iter().copied().chain(std::iter::once("unknown"));
        for (name, (o, t)) in names.zip(self.counts.iter()) {
            if *t == 0 {
                continue;
            }
            ok += o;
            total += t;
            out.push_str(&fraction(name, *o, *t));
        }
        out.push_str(&fraction("commands", ok, total));
        out
    }
}

fn fraction(name: &str, ok: u32, total: u32) -> String {
    if ok == total {
        format!(" {name}={total}")
    } else {
        format!(" {name}={ok}/{total}")
    }
}

/// The session state.
pub(super) struct Session<'s> {
    pub svc: &'s SmtpdService,
    pub reader: BufReader<Conn>,
    pub client: Client,
    pub local: SocketAddr,
    pub helo: Option<String>,
    pub esmtp: bool,
    pub tls: Option<TlsFacts>,
    pub tx: Option<Transaction>,
    pub stats: Stats,
    pub errors: u32,
    pub junk: u32,
    /// The current stage for "lost connection after X" (`CONNECT`, `EHLO`, `DATA`...).
    pub stage: String,
    /// A reply that needed waiting for was due while client input was pending.
    pub pipelining_violation: bool,
    /// A reply from a Connect-stage reject, given to every later MAIL/HELO.
    pub connect_reject: Option<Reply>,
    /// virtual_alias_maps, opened for this session (maps are not `Sync`).
    pub aliases: Option<MapList>,
    /// The write side failed: the client is gone.
    pub broken: bool,
    /// The current command failed without an error reply (client lost).
    pub cmd_failed: bool,
}

impl<'s> Session<'s> {
    /// Serves one connection to its end.
    pub fn run(svc: &'s SmtpdService, stream: TcpStream, peer: SocketAddr, local: SocketAddr) {
        let st = &svc.settings;
        let client = Client::identify(peer, st.peername_lookup, st.client_port_logging);
        ::log::info!("connect from {}", client.namaddr);
        let aliases = if st.virtual_alias_maps.trim().is_empty() {
            None
        } else {
            match MapList::open(&st.virtual_alias_maps, svc.alias_flags()) {
                Ok(m) => Some(m),
                Err(e) => {
                    ::log::warn!("virtual_alias_maps: {e}");
                    None
                }
            }
        };
        let mut s = Session {
            svc,
            reader: BufReader::new(Conn::new(stream, st.timeout)),
            client,
            local,
            helo: None,
            esmtp: false,
            tls: None,
            tx: None,
            stats: Stats::default(),
            errors: 0,
            junk: 0,
            stage: "CONNECT".into(),
            pipelining_violation: false,
            connect_reject: None,
            aliases,
            broken: false,
            cmd_failed: false,
        };
        s.serve();
        if let super::conn::Stream::Tls(t) = &mut s.reader.get_mut().stream {
            // A clean close_notify keeps the TLS session resumable (DEPENDENCIES
            // fact 2), whatever ended the session.
            let _ = crate::tls::stream::shutdown(t);
        }
        ::log::info!("disconnect from {}{}", s.client.namaddr, s.stats.summary());
    }

    fn serve(&mut self) {
        let st = &self.svc.settings;
        if st.wrappermode && !starttls::handshake(self) {
            return;
        }
        let decision = self.check(Checkpoint::Connect, None);
        if let Verdict::Reject(r) | Verdict::Defer(r) = decision.verdict {
            self.log_reject("CONNECT", &r, None);
            self.connect_reject = Some(r);
        }
        let banner = Reply::new(220, None, st.banner.clone());
        if !self.send(&banner) {
            return;
        }
        self.command_loop();
    }

    fn command_loop(&mut self) {
        let mut line = Vec::new();
        loop {
            let st = &self.svc.settings;
            if self.errors >= st.hard_error_limit {
                ::log::info!(
                    "too many errors after {} from {}",
                    self.stage,
                    self.client.namaddr
                );
                self.send(&Reply::too_many_errors(&st.myhostname));
                return;
            }
            self.reader
                .get_mut()
                .start_request(st.per_request_deadline, 0);
            let limits = LineLimits {
                max: st.line_length_limit,
                bare_newline: self.bare_newline(),
            };
            match line::read_line(&mut self.reader, &limits, &mut line) {
                Ok(()) => {
                    if self.dispatch(&line) == Flow::Close || self.broken {
                        return;
                    }
                }
                Err(LineError::TooLong { .. }) => {
                    self.stats.count("unknown", false);
                    self.send(&reply::LINE_TOO_LONG);
                }
                Err(LineError::Nul) => {
                    self.stats.count("unknown", false);
                    self.send(&reply::NUL_IN_COMMAND);
                }
                Err(e @ (LineError::BareLf | LineError::BareCr)) => {
                    // Postfix 3.9 `reject`: reply, log, and hang up, so nothing the
                    // client smuggled after the bare newline is read as a command.
                    let r = match e {
                        LineError::BareCr => Reply::bare_cr(st.bare_newline_code),
                        _ => Reply::bare_lf(st.bare_newline_code),
                    };
                    self.stats.count("unknown", false);
                    self.log_reject(&e.to_string(), &r, None);
                    self.send(&r);
                    return;
                }
                Err(LineError::Eof | LineError::Truncated | LineError::Io(_)) => {
                    self.lost_connection(None);
                    return;
                }
            }
        }
    }

    /// Postfix `smtpd_forbid_bare_newline_exclusions` (default `$mynetworks`):
    /// trusted clients get `normalize` instead of `reject`.
    pub fn bare_newline(&self) -> BareNewline {
        let st = &self.svc.settings;
        if st.bare_newline == BareNewline::Reject
            && self.svc.restrictions.in_mynetworks(self.client.addr)
        {
            BareNewline::Normalize
        } else {
            st.bare_newline
        }
    }

    /// Logs `timeout after X` (with 421) or `lost connection after X`.
    pub fn lost_connection(&mut self, data_bytes: Option<u64>) {
        self.cmd_failed = true;
        let stage = match data_bytes {
            Some(n) => format!("{} ({n} bytes)", self.stage),
            None => self.stage.clone(),
        };
        if self.reader.get_ref().timed_out {
            ::log::info!("timeout after {stage} from {}", self.client.namaddr);
            let r = Reply::timeout(&self.svc.settings.myhostname);
            self.send(&r);
        } else {
            ::log::info!("lost connection after {stage} from {}", self.client.namaddr);
        }
    }

    fn parse_options(&self) -> ParseOptions {
        let st = &self.svc.settings;
        ParseOptions {
            strict_rfc821_envelopes: st.strict_rfc821,
            smtputf8: st.smtputf8 && !st.keyword_discarded("smtputf8"),
            dsn: !st.keyword_discarded("dsn"),
        }
    }

    fn dispatch(&mut self, line: &[u8]) -> Flow {
        let cmd = match command::parse(line, &self.parse_options()) {
            Ok(c) => c,
            Err(e) => {
                let verb = verb_of(line);
                let counted = COUNTED.contains(&verb.as_str());
                self.stats
                    .count(if counted { &verb } else { "unknown" }, false);
                // Postfix's state->where: the verb, or UNKNOWN for junk.
                self.stage = if counted {
                    verb.to_ascii_uppercase()
                } else {
                    "UNKNOWN".into()
                };
                self.send(&e.reply());
                return Flow::Continue;
            }
        };
        let name = verb_name(&cmd);
        self.stage = name.to_ascii_uppercase();
        if matches!(
            cmd,
            Command::Noop | Command::Vrfy(_) | Command::Etrn(_) | Command::Rset
        ) {
            // Postfix: junk commands beyond smtpd_junk_command_limit count as errors.
            self.junk += 1;
            if self.junk > self.svc.settings.junk_command_limit {
                self.errors += 1;
            }
        }
        let before = self.errors;
        self.cmd_failed = false;
        let flow = match cmd {
            Command::Helo(h) => helo::helo(self, h, false),
            Command::Ehlo(h) => helo::helo(self, h, true),
            Command::Mail { sender, params } => mail::mail(self, sender, params),
            Command::Rcpt { recipient, params } => rcpt::rcpt(self, recipient, params),
            Command::Data => data_cmd::data(self),
            Command::Bdat { size, last } => bdat_cmd::bdat(self, size, last),
            Command::Rset => rset::rset(self),
            Command::Noop => noop::noop(self),
            Command::Quit => quit::quit(self),
            Command::Vrfy(a) => vrfy::vrfy(self, &a),
            Command::StartTls => starttls::starttls(self),
            Command::Auth => misc::auth(self),
            Command::Help => misc::help(self),
            Command::Etrn(d) => misc::etrn(self, &d),
        };
        self.stats
            .count(name, self.errors == before && !self.cmd_failed);
        flow
    }

    /// Sends a reply; 4xx/5xx count as errors, and after
    /// `smtpd_soft_error_limit` errors each error reply waits
    /// `smtpd_error_sleep_time` (Postfix smtpd_chat_reply). Returns false when
    /// the client is gone.
    pub fn send(&mut self, r: &Reply) -> bool {
        let st = &self.svc.settings;
        if r.code() >= 400 && r.code() != 421 {
            self.errors += 1;
            if self.errors > st.soft_error_limit && !st.error_sleep_time.is_zero() {
                std::thread::sleep(st.error_sleep_time);
            }
        }
        // Postfix sends enhanced status codes in every session unless the
        // keyword is discarded (smtpd_chat.c).
        let wire = r.to_wire(!st.keyword_discarded("enhancedstatuscodes"));
        let conn = self.reader.get_mut();
        let ok = conn.write_all(wire.as_bytes()).is_ok() && conn.flush().is_ok();
        if !ok {
            self.broken = true;
        }
        ok
    }

    /// Before a reply the client must wait for (RFC 2920 section 3.1: EHLO,
    /// DATA, QUIT, STARTTLS, ...): input already pending is improper
    /// pipelining, logged as Postfix does; returns whether it happened.
    pub fn check_pipelining(&mut self) -> bool {
        let pending = !self.reader.buffer().is_empty() || self.reader.get_ref().input_pending();
        if pending && !self.pipelining_violation {
            self.pipelining_violation = true;
            let text = printable(self.reader.buffer());
            ::log::info!(
                "improper command pipelining after {} from {}: {}",
                self.stage,
                self.client.namaddr,
                text
            );
        }
        pending
    }

    /// Asks the restrictions at `point`; logs and drops warnings.
    pub fn check(&mut self, point: Checkpoint, recipient: Option<&str>) -> Decision {
        let sender = self.tx.as_ref().map(|t| t.sender.to_string());
        let rcpt_count = self.tx.as_ref().map_or(0, |t| t.rcpts.len());
        let protocol = self.protocol();
        let facts = Facts {
            client_name: &self.client.name,
            client_addr: self.client.addr,
            helo: self.helo.as_deref(),
            sender: sender.as_deref(),
            recipient,
            protocol: &protocol,
            tls: self.tls.as_ref(),
            pipelining_violation: self.pipelining_violation,
            recipient_count: rcpt_count,
        };
        let d = self.svc.restrictions.check(point, &facts);
        for w in &d.warnings {
            self.log_action("reject_warning", stage_of(point), w, recipient);
        }
        d
    }

    /// `NOQUEUE: reject: RCPT from host[addr]: 554 5.7.1 ...; from=<> to=<> proto=ESMTP helo=<h>`.
    pub fn log_reject(&self, stage: &str, r: &Reply, recipient: Option<&str>) {
        self.log_action("reject", stage, r, recipient);
    }

    pub fn log_action(&self, action: &str, stage: &str, r: &Reply, recipient: Option<&str>) {
        self.log_whatsup(action, stage, &r.log_text(), recipient);
    }

    /// Postfix smtpd_check.c `log_whatsup`.
    pub fn log_whatsup(&self, action: &str, stage: &str, text: &str, recipient: Option<&str>) {
        let id = self
            .tx
            .as_ref()
            .and_then(|t| t.queue_id.as_ref())
            .map_or_else(|| "NOQUEUE".to_string(), |q| q.to_string());
        let mut line = format!(
            "{id}: {action}: {stage} from {}: {text};",
            self.client.namaddr
        );
        if let Some(t) = &self.tx {
            line.push_str(&format!(" from=<{}>", t.sender));
        }
        if let Some(r) = recipient {
            line.push_str(&format!(" to=<{r}>"));
        }
        line.push_str(&format!(" proto={}", self.base_protocol()));
        if let Some(h) = &self.helo {
            line.push_str(&format!(" helo=<{h}>"));
        }
        ::log::info!("{line}");
    }

    /// `SMTP` or `ESMTP`, as `proto=` in reject lines.
    pub fn base_protocol(&self) -> &'static str {
        if self.esmtp {
            "ESMTP"
        } else {
            "SMTP"
        }
    }

    /// The Received `with` protocol: SMTP, ESMTP, ESMTPS, (UTF8SMTP/UTF8SMTPS
    /// when the client asked for SMTPUTF8, Postfix 3.x).
    pub fn protocol(&self) -> String {
        let utf8 = self.tx.as_ref().is_some_and(|t| t.params.smtputf8);
        let base = match (self.esmtp, utf8) {
            (true, true) => "UTF8SMTP",
            (true, false) => "ESMTP",
            (false, _) => "SMTP",
        };
        let tls = if self.tls.is_some() { "S" } else { "" };
        format!("{base}{tls}")
    }

    /// Ends the transaction (after DATA, RSET, HELO/EHLO, STARTTLS).
    pub fn reset(&mut self) {
        self.tx = None;
    }
}

fn stage_of(point: Checkpoint) -> &'static str {
    match point {
        Checkpoint::Connect => "CONNECT",
        Checkpoint::Helo => "HELO",
        Checkpoint::Mail => "MAIL",
        Checkpoint::Rcpt => "RCPT",
        Checkpoint::Data => "DATA",
        Checkpoint::EndOfData => "END-OF-MESSAGE",
        Checkpoint::Etrn => "ETRN",
        Checkpoint::Vrfy => "VRFY",
    }
}

fn verb_name(cmd: &Command) -> &'static str {
    match cmd {
        Command::Helo(_) => "helo",
        Command::Ehlo(_) => "ehlo",
        Command::Mail { .. } => "mail",
        Command::Rcpt { .. } => "rcpt",
        Command::Data => "data",
        Command::Bdat { .. } => "bdat",
        Command::Rset => "rset",
        Command::Noop => "noop",
        Command::Quit => "quit",
        Command::Vrfy(_) => "vrfy",
        Command::StartTls => "starttls",
        Command::Auth => "auth",
        Command::Help => "unknown",
        Command::Etrn(_) => "etrn",
    }
}

/// The lower-case verb of an unparsable line, for the counters.
fn verb_of(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    text.split_ascii_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Client bytes made safe for a log line: CR, LF and controls as `\r`, `\n`, `\ooo`.
pub(super) fn printable(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes.iter().take(100) {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out
}
