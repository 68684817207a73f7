//! Notice templates: the built-in failure, delay and success texts, an optional
//! `bounce_template_file` that overrides them, and `$name` expansion in the text.
//!
//! Mirrors Postfix's bounce_templates.c (built-in texts, as `postconf -t` prints
//! them for 3.7), bounce_template.c (the `name = <<EOF` file format, template
//! headers, `$delay_warning_time_hours`-style expansion) and bounce(5).
//! Parameters read: `bounce_template_file`, `delay_warning_time`,
//! `maximal_queue_lifetime`, `smtputf8_enable`, and any `$name` in a template
//! text. No RFC.

use super::{names, BounceError, DsnKind};
use crate::config::Config;
use std::path::{Path, PathBuf};

/// One template: its headers and its (unexpanded) text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub charset: String,
    pub from: String,
    pub subject: String,
    pub postmaster_subject: Option<String>,
    pub text: String,
}

const FROM: &str = "Mail Delivery System <MAILER-DAEMON>";

const FAILURE_TEXT: &str = "\
This is the mail system at host $myhostname.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system
";

const DELAY_TEXT: &str = "\
This is the mail system at host $myhostname.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than $delay_warning_time_hours hour(s).
It will be retried until it is $maximal_queue_lifetime_days day(s) old.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system
";

const SUCCESS_TEXT: &str = "\
This is the mail system at host $myhostname.

Your message was successfully delivered to the destination(s)
listed below. If the message was delivered to mailbox you will
receive no further notifications. Otherwise you may still receive
notifications of mail delivery errors from other systems.

                   The mail system
";

/// The built-in template of `kind` (bounce_templates.c).
pub fn builtin(kind: DsnKind) -> Template {
    let (subject, pm, text) = match kind {
        DsnKind::Failure => (
            "Undelivered Mail Returned to Sender",
            Some("Postmaster Copy: Undelivered Mail"),
            FAILURE_TEXT,
        ),
        DsnKind::Delay => (
            "Delayed Mail (still being retried)",
            Some("Postmaster Warning: Delayed Mail"),
            DELAY_TEXT,
        ),
        DsnKind::Success => ("Successful Mail Delivery Report", None, SUCCESS_TEXT),
    };
    Template {
        charset: "us-ascii".into(),
        from: FROM.into(),
        subject: subject.into(),
        postmaster_subject: pm.map(str::to_string),
        text: text.into(),
    }
}

/// The template in effect: `bounce_template_file`'s when it defines one for
/// `kind`, else the built-in one.
pub fn load(kind: DsnKind, cfg: &Config) -> Result<Template, BounceError> {
    let mut t = builtin(kind);
    let file = cfg.get(names::BOUNCE_TEMPLATE_FILE);
    if !file.is_empty() {
        let path = PathBuf::from(&file);
        let text = std::fs::read_to_string(&path).map_err(|source| BounceError::TemplateRead {
            path: path.clone(),
            source,
        })?;
        let wanted = match kind {
            DsnKind::Failure => "failure_template",
            DsnKind::Delay => "delay_template",
            DsnKind::Success => "success_template",
        };
        if let Some((line, body)) = find_template(&path, &text, wanted)? {
            apply(&mut t, &path, line, &body)?;
        }
    }
    Ok(t)
}

/// The charset to declare: Postfix 3.x sends UTF-8 when `smtputf8_enable` is on
/// and the template says us-ascii (the observed `charset=utf-8` of 3.7 notices).
pub fn charset(t: &Template, cfg: &Config) -> Result<String, BounceError> {
    if t.charset.eq_ignore_ascii_case("us-ascii") && cfg.get_bool(names::SMTPUTF8_ENABLE)? {
        Ok("utf-8".into())
    } else {
        Ok(t.charset.clone())
    }
}

/// Finds `name = <<EOF ... EOF` and returns its first body line number and body.
/// Lines outside a template that are empty or start with `#` are ignored (bounce(5)).
fn find_template(
    path: &Path,
    text: &str,
    name: &str,
) -> Result<Option<(usize, String)>, BounceError> {
    let bad = |line: usize, reason: String| BounceError::Template {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    while let Some((no, line)) = lines.next() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            return Err(bad(no, format!("expected \"name = <<EOF\": {trimmed}")));
        };
        let Some(end) = value.trim().strip_prefix("<<") else {
            return Err(bad(no, format!("expected \"<<\" after \"{}\"", key.trim())));
        };
        let end = end.trim().to_string();
        let mut body = String::new();
        let mut closed = false;
        for (_, l) in lines.by_ref() {
            if l.trim_end() == end {
                closed = true;
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        if !closed {
            return Err(bad(no, format!("missing \"{end}\" terminator")));
        }
        if key.trim() == name {
            return Ok(Some((no + 1, body)));
        }
    }
    Ok(None)
}

/// Template headers (`Charset:`, `From:`, `Subject:`, `Postmaster-Subject:`, any
/// case) up to the first empty line, then the text.
fn apply(t: &mut Template, path: &Path, first: usize, body: &str) -> Result<(), BounceError> {
    let mut rest = body;
    let mut line = first;
    while let Some((head, tail)) = rest.split_once('\n') {
        if head.is_empty() {
            rest = tail;
            break;
        }
        let Some((name, value)) = head.split_once(':') else {
            break; // no headers: the whole body is text
        };
        let value = value.trim().to_string();
        if !value.is_ascii() {
            return Err(BounceError::Template {
                path: path.to_path_buf(),
                line,
                reason: format!("non-ASCII text in header {name}"),
            });
        }
        match name.to_ascii_lowercase().as_str() {
            "charset" => t.charset = value,
            "from" => t.from = value,
            "subject" => t.subject = value,
            "postmaster-subject" => t.postmaster_subject = Some(value),
            _ => {
                return Err(BounceError::Template {
                    path: path.to_path_buf(),
                    line,
                    reason: format!("unknown template header: {name}"),
                })
            }
        }
        rest = tail;
        line += 1;
    }
    t.text = rest.to_string();
    Ok(())
}

/// Expands `$name`, `${name}` and `$$` in a template text; the time parameters
/// take a unit suffix (`$delay_warning_time_hours`), counted in whole units as
/// bounce_template.c does (integer division).
pub fn expand(text: &str, cfg: &Config) -> Result<String, BounceError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let (name, tail) = if let Some(inner) = after.strip_prefix('{') {
            match inner.split_once('}') {
                Some((n, t)) => (n, t),
                None => (inner, ""),
            }
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..len], &after[len..])
        };
        out.push_str(&value(name, cfg)?);
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

fn value(name: &str, cfg: &Config) -> Result<String, BounceError> {
    const UNITS: [(&str, u64); 5] = [
        ("_seconds", 1),
        ("_minutes", 60),
        ("_hours", 3600),
        ("_days", 86_400),
        ("_weeks", 604_800),
    ];
    for param in [names::DELAY_WARNING_TIME, names::MAXIMAL_QUEUE_LIFETIME] {
        if let Some(suffix) = name.strip_prefix(param) {
            if let Some((_, unit)) = UNITS.iter().find(|(s, _)| *s == suffix) {
                return Ok((cfg.get_time(param)?.as_secs() / unit).to_string());
            }
        }
    }
    Ok(cfg.try_get(name)?)
}
