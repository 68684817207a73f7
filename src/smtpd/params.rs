//! ESMTP parameters of MAIL FROM and RCPT TO (`KEY=VALUE` words after the path):
//! SIZE, BODY, SMTPUTF8, RET, ENVID, NOTIFY, ORCPT, with Postfix's replies for
//! bad values and unknown keywords.
//!
//! Mirrors the parameter loops of Postfix's smtpd.c mail_cmd and rcpt_cmd. Reads
//! (through `ParseOptions`) `smtputf8_enable` and whether DSN is offered.
//! Implements RFC 5321 section 4.1.2 (esmtp-param syntax), RFC 1870 section 3
//! (SIZE), RFC 6152 (8BITMIME), RFC 3030 (BINARYMIME), RFC 6531 section 3.4
//! (SMTPUTF8), RFC 3461 section 4 (RET, ENVID, NOTIFY, ORCPT).

use super::command::ParseOptions;
use super::reply::{self, Reply};
use crate::mail::dsn::{parse_envid, Notify, OrigRcpt, Ret};
use crate::mail::envelope::{Body, MailParams, RcptParams};

/// Splits the parameter text into `(keyword, value)` pairs. An esmtp-keyword is
/// alphanumerics and `-`, starting with an alphanumeric (RFC 5321 section 4.1.2).
fn words(text: &str) -> impl Iterator<Item = (&str, Option<&str>, &str)> {
    text.split_ascii_whitespace()
        .map(|word| match word.split_once('=') {
            Some((k, v)) => (k, Some(v), word),
            None => (word, None, word),
        })
}

/// The RFC 3461 parameters; with DSN turned off Postfix names the reason.
const DSN_KEYWORDS: [&str; 4] = ["RET", "ENVID", "NOTIFY", "ORCPT"];

/// The reply for a keyword this session does not take.
fn unknown(key: &str, word: &str, opts: &ParseOptions) -> Reply {
    if !opts.dsn && DSN_KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
        reply::DSN_DISABLED
    } else {
        Reply::unsupported_option(word)
    }
}

fn is_keyword(k: &str) -> bool {
    k.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Stores `value` in `slot` unless the parameter was already given; a repeated
/// parameter gets the same reply as a bad value.
fn set_once<T>(slot: &mut Option<T>, value: Option<T>, bad: Reply) -> Result<(), Reply> {
    match (slot.is_some(), value) {
        (false, Some(v)) => {
            *slot = Some(v);
            Ok(())
        }
        _ => Err(bad),
    }
}

pub fn parse_mail_params(text: &str, opts: &ParseOptions) -> Result<MailParams, Reply> {
    let mut p = MailParams::default();
    for (key, value, word) in words(text) {
        if !is_keyword(key) {
            return Err(reply::Reply::unsupported_option(word));
        }
        let k = key.to_ascii_uppercase();
        match (k.as_str(), value) {
            ("SIZE", Some(v)) => {
                let n = v
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| v.parse::<u64>().ok())
                    .flatten();
                set_once(&mut p.size, n, reply::BAD_SIZE)?;
            }
            ("BODY", Some(v)) => {
                let b = Body::parse(v);
                if b.is_none() {
                    return Err(Reply::new(
                        reply::BAD_BODY.code(),
                        reply::BAD_BODY.status(),
                        format!("{}: {v}", reply::BAD_BODY.text()),
                    ));
                }
                set_once(&mut p.body, b, reply::BAD_BODY)?;
            }
            ("SMTPUTF8", None) if opts.smtputf8 => {
                if p.smtputf8 {
                    return Err(Reply::unsupported_option(word));
                }
                p.smtputf8 = true;
            }
            ("RET", Some(v)) if opts.dsn => {
                set_once(&mut p.ret, Ret::parse(v).ok(), reply::BAD_RET)?;
            }
            ("ENVID", Some(v)) if opts.dsn => {
                set_once(&mut p.envid, parse_envid(v).ok(), reply::BAD_ENVID)?;
            }
            _ => return Err(unknown(key, word, opts)),
        }
    }
    Ok(p)
}

pub fn parse_rcpt_params(text: &str, opts: &ParseOptions) -> Result<RcptParams, Reply> {
    let mut p = RcptParams::default();
    for (key, value, word) in words(text) {
        if !is_keyword(key) {
            return Err(Reply::unsupported_option(word));
        }
        let k = key.to_ascii_uppercase();
        match (k.as_str(), value) {
            ("NOTIFY", Some(v)) if opts.dsn => {
                set_once(&mut p.notify, Notify::parse(v).ok(), reply::BAD_NOTIFY)?;
            }
            ("ORCPT", Some(v)) if opts.dsn => {
                set_once(&mut p.orcpt, OrigRcpt::parse(v).ok(), reply::BAD_ORCPT)?;
            }
            _ => return Err(unknown(key, word, opts)),
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(text: &str) -> Result<MailParams, String> {
        parse_mail_params(text, &ParseOptions::default()).map_err(|r| r.log_text())
    }

    fn rcpt(text: &str) -> Result<RcptParams, String> {
        parse_rcpt_params(text, &ParseOptions::default()).map_err(|r| r.log_text())
    }

    #[test]
    fn mail_parameters() {
        let p = mail(" SIZE=1000 body=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ+2B1").unwrap();
        assert_eq!(p.size, Some(1000));
        assert_eq!(p.body, Some(Body::EightBitMime));
        assert!(p.smtputf8);
        assert_eq!(p.ret, Some(Ret::Hdrs));
        assert_eq!(p.envid.as_deref(), Some("QQ+1"));
        assert_eq!(mail("").unwrap(), MailParams::default());
    }

    #[test]
    fn bad_mail_parameters_get_postfix_replies() {
        assert_eq!(
            mail("SIZE=10x").unwrap_err(),
            "501 5.5.4 Bad message size syntax"
        );
        assert_eq!(
            mail("SIZE=-1").unwrap_err(),
            "501 5.5.4 Bad message size syntax"
        );
        assert_eq!(
            mail("SIZE=99999999999999999999999").unwrap_err(),
            "501 5.5.4 Bad message size syntax"
        );
        assert_eq!(
            mail("SIZE=1 SIZE=2").unwrap_err(),
            "501 5.5.4 Bad message size syntax"
        );
        assert_eq!(
            mail("BODY=8BIT").unwrap_err(),
            "501 5.5.4 Unsupported BODY type: 8BIT"
        );
        assert_eq!(
            mail("RET=ALL").unwrap_err(),
            "501 5.5.4 Bad RET parameter syntax"
        );
        assert_eq!(
            mail("ENVID=a=b").unwrap_err(),
            "501 5.5.4 Bad ENVID parameter syntax"
        );
        assert_eq!(
            mail("FOO=bar").unwrap_err(),
            "555 5.5.4 Unsupported option: FOO=bar"
        );
        assert_eq!(
            mail("SIZE").unwrap_err(),
            "555 5.5.4 Unsupported option: SIZE"
        );
        assert_eq!(
            mail("SMTPUTF8=yes").unwrap_err(),
            "555 5.5.4 Unsupported option: SMTPUTF8=yes"
        );
        assert_eq!(
            mail("AUTH=<>").unwrap_err(),
            "555 5.5.4 Unsupported option: AUTH=<>"
        );
    }

    #[test]
    fn disabled_extensions_are_unknown_options() {
        let off = ParseOptions {
            strict_rfc821_envelopes: false,
            smtputf8: false,
            dsn: false,
        };
        assert!(parse_mail_params("SMTPUTF8", &off).is_err());
        assert!(parse_mail_params("RET=FULL", &off).is_err());
        assert_eq!(
            parse_rcpt_params("NOTIFY=NEVER", &off)
                .unwrap_err()
                .log_text(),
            "501 5.7.1 DSN support is disabled"
        );
        assert!(parse_mail_params("SIZE=1 BODY=7BIT", &off).is_ok());
    }

    #[test]
    fn rcpt_parameters() {
        let p = rcpt("NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;user+40example.org").unwrap();
        assert!(p.notify.unwrap().success);
        assert_eq!(p.orcpt.unwrap().address, "user@example.org");
        assert_eq!(
            rcpt("NOTIFY=SOMETIMES").unwrap_err(),
            "501 5.5.4 Error: Bad NOTIFY parameter syntax"
        );
        assert_eq!(
            rcpt("ORCPT=user").unwrap_err(),
            "501 5.5.4 Error: Bad ORCPT parameter syntax"
        );
        assert_eq!(
            rcpt("SIZE=1").unwrap_err(),
            "555 5.5.4 Unsupported option: SIZE=1"
        );
    }
}
