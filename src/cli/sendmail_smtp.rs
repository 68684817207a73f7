//! `sendmail -bs`: an SMTP dialogue on standard input and output, each
//! accepted message dropped into the maildrop like any other submission.
//!
//! Postfix runs smtpd(8) in stand-alone mode for `-bs`. Postern's smtpd session
//! is bound to a TCP socket and queues through the daemon's queue writer,
//! which an ordinary user cannot reach, so this is a small server of its own:
//! HELO, EHLO (PIPELINING, 8BITMIME, DSN, ENHANCEDSTATUSCODES), MAIL FROM with
//! RET/ENVID, RCPT TO with NOTIFY, DATA with dot-unstuffing, RSET, NOOP, VRFY,
//! QUIT, in Postfix smtpd's reply texts. No restrictions apply: the peer is a
//! local user, as for plain `sendmail`. Reads `myhostname`, `mail_name`.
//! RFC 5321 sections 4.1.1 (commands), 4.5.2 (transparency), RFC 3461 (DSN).

use std::io::{self, BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use super::sendmail::{drop_message, Fatal};
use crate::config::Config;
use crate::pickup::maildrop::DropEnvelope;

/// Reply texts, as Postfix smtpd words them.
const OK: &str = "250 2.0.0 Ok";
const NEED_MAIL: &str = "503 5.5.1 Error: need MAIL command";
const NEED_RCPT: &str = "503 5.5.1 Error: need RCPT command";
const NESTED_MAIL: &str = "503 5.5.1 Error: nested MAIL command";
const UNKNOWN: &str = "502 5.5.2 Error: command not recognized";
const SYNTAX: &str = "501 5.5.4 Syntax error in parameters";

/// Runs the dialogue until QUIT or end of input.
pub fn serve(cfg: &Config, queue_dir: &Path) -> Result<ExitCode, Fatal> {
    let host = cfg.get(crate::config::params::names::MYHOSTNAME);
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut out = io::stdout().lock();
    let mut tx: Option<DropEnvelope> = None;
    let io_err = |e: io::Error| Fatal(75, format!("standard output: {e}"));
    say(
        &mut out,
        &format!("220 {host} ESMTP {}", cfg.get(super::sendmail::MAIL_NAME)),
    )
    .map_err(io_err)?;
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line).map_err(io_err)? == 0 {
            return Ok(ExitCode::SUCCESS);
        }
        let cmd = line.trim_end_matches(['\r', '\n']);
        let (verb, arg) = cmd.split_once(' ').unwrap_or((cmd, ""));
        let reply = match verb.to_ascii_uppercase().as_str() {
            "HELO" => format!("250 {host}"),
            "EHLO" => format!(
                "250-{host}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 DSN"
            ),
            "MAIL" if tx.is_some() => NESTED_MAIL.into(),
            "MAIL" => match mail_from(arg) {
                Some(env) => {
                    tx = Some(env);
                    "250 2.1.0 Ok".into()
                }
                None => SYNTAX.into(),
            },
            "RCPT" => match (&mut tx, rcpt_to(arg)) {
                (None, _) => NEED_MAIL.into(),
                (Some(_), None) => SYNTAX.into(),
                (Some(env), Some((addr, notify))) => {
                    env.recipients.push(addr);
                    if env.notify.is_none() {
                        env.notify = notify;
                    }
                    "250 2.1.5 Ok".into()
                }
            },
            "DATA" => match tx.take() {
                None => NEED_MAIL.into(),
                Some(env) if env.recipients.is_empty() => {
                    tx = Some(env);
                    NEED_RCPT.into()
                }
                Some(env) => {
                    say(&mut out, "354 End data with <CR><LF>.<CR><LF>").map_err(io_err)?;
                    let content = read_data(&mut input).map_err(io_err)?;
                    match drop_message(cfg, queue_dir, &env, &content) {
                        Ok(_) => "250 2.0.0 Ok: queued".into(),
                        Err(Fatal(_, text)) => {
                            ::log::warn!("{text}");
                            "451 4.3.0 Error: queue file write error".into()
                        }
                    }
                }
            },
            "RSET" => {
                tx = None;
                OK.into()
            }
            "NOOP" => OK.into(),
            "VRFY" if arg.trim().is_empty() => "501 5.5.4 Syntax: VRFY address".into(),
            "VRFY" => format!("252 2.0.0 {}", arg.trim()),
            "QUIT" => {
                say(&mut out, "221 2.0.0 Bye").map_err(io_err)?;
                return Ok(ExitCode::SUCCESS);
            }
            _ => UNKNOWN.into(),
        };
        say(&mut out, &reply).map_err(io_err)?;
    }
}

fn say(out: &mut impl Write, reply: &str) -> io::Result<()> {
    out.write_all(reply.as_bytes())?;
    out.write_all(b"\r\n")?;
    out.flush()
}

/// `FROM:<addr> [RET=..] [ENVID=..]`.
fn mail_from(arg: &str) -> Option<DropEnvelope> {
    let rest = strip_keyword(arg, "FROM:")?;
    let (addr, params) = path_and_params(rest)?;
    let mut env = DropEnvelope {
        sender: addr,
        ..DropEnvelope::default()
    };
    for p in params.split_whitespace() {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        match k.to_ascii_uppercase().as_str() {
            "RET" => env.ret = Some(v.to_ascii_uppercase()),
            "ENVID" => env.envid = Some(v.to_string()),
            _ => {}
        }
    }
    Some(env)
}

/// `TO:<addr> [NOTIFY=..]`.
fn rcpt_to(arg: &str) -> Option<(String, Option<String>)> {
    let rest = strip_keyword(arg, "TO:")?;
    let (addr, params) = path_and_params(rest)?;
    if addr.is_empty() {
        return None;
    }
    let notify = params.split_whitespace().find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.eq_ignore_ascii_case("NOTIFY")
            .then(|| v.to_ascii_uppercase())
    });
    Some((addr, notify))
}

fn strip_keyword<'a>(arg: &'a str, kw: &str) -> Option<&'a str> {
    let a = arg.trim_start();
    (a.len() >= kw.len() && a[..kw.len()].eq_ignore_ascii_case(kw))
        .then(|| a[kw.len()..].trim_start())
}

fn path_and_params(rest: &str) -> Option<(String, &str)> {
    if let Some(inner) = rest.strip_prefix('<') {
        let (addr, params) = inner.split_once('>')?;
        return Some((addr.to_string(), params));
    }
    let (addr, params) = rest.split_once(' ').unwrap_or((rest, ""));
    Some((addr.to_string(), params))
}

/// DATA content up to the lone `.`, dot-unstuffed, CRLF line ends.
fn read_data(input: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(out);
        }
        let text = line
            .strip_suffix(b"\n")
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .unwrap_or(&line);
        if text == b"." {
            return Ok(out);
        }
        let text = text
            .strip_prefix(b".")
            .filter(|_| text.starts_with(b".."))
            .unwrap_or(text);
        out.extend_from_slice(text);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        let env = mail_from("FROM:<a@b> RET=hdrs ENVID=x").unwrap();
        assert_eq!(
            (env.sender.as_str(), env.ret.as_deref()),
            ("a@b", Some("HDRS"))
        );
        assert_eq!(mail_from("from:<>").unwrap().sender, "");
        assert_eq!(
            rcpt_to("TO:<u@h> NOTIFY=success"),
            Some(("u@h".into(), Some("SUCCESS".into())))
        );
        assert_eq!(rcpt_to("TO:<>"), None);
        let data = read_data(&mut &b"a\r\n..b\n.\r\nafter"[..]).unwrap();
        assert_eq!(data, b"a\r\n.b\r\n");
    }
}
