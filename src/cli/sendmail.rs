//! The `sendmail` command: Sendmail-compatible local submission. The message is
//! written into the maildrop area (see `pickup::maildrop`) and the running
//! daemon's pickup thread is woken; when the daemon is down the file waits and
//! is queued at the next start. Also the Sendmail aliases of other commands:
//! `-bp` (mailq), `-bi`/`-I` (newaliases), `-q` (postqueue -f), `-bs` (SMTP on
//! stdin/stdout, `sendmail_smtp.rs`), `-bv` (address report, no delivery).
//!
//! Mirrors Postfix `sendmail/sendmail.c` (options, `From ` line skipping, `.`
//! ending input without `-i`, the fatal texts) and postdrop(1). Reads
//! `queue_directory`, `myorigin`, `mydestination`, `mail_owner`, plus what
//! newaliases and postqueue read. RFC 5322 section 3.6.3 (To/Cc/Bcc for `-t`).
//!
//! Exit statuses (sysexits, as Postfix): 0 done, 64 usage, 75 the maildrop
//! could not be written (try again), 78 configuration error.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::sendmail_headers::{extract_recipients, message_from_input};
use crate::config::{self, Config};
use crate::pickup::{self, maildrop};

/// Parameters read here (besides `queue_directory` and `mail_owner`).
const MYORIGIN: &str = "myorigin";
const MYDESTINATION: &str = "mydestination";
pub(super) const MAIL_NAME: &str = "mail_name";

const EX_USAGE: u8 = 64;
const EX_TEMPFAIL: u8 = 75;
const EX_CONFIG: u8 = 78;

/// What the command was asked to do (`-b` mode and its aliases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Deliver,
    ListQueue,
    Newaliases,
    Flush,
    Smtp,
    Verify,
}

/// Parsed command line.
#[derive(Debug, Default)]
struct Options {
    config_dir: Option<String>,
    sender: Option<String>,
    fullname: Option<String>,
    extract: bool,
    dot_ends_input: bool,
    notify: Option<String>,
    ret: Option<String>,
    envid: Option<String>,
    verbose: bool,
    flush_site: Option<String>,
    recipients: Vec<String>,
    mode: Option<Mode>,
}

/// A fatal error with its exit status.
#[derive(Debug)]
pub(super) struct Fatal(pub u8, pub String);

/// Runs `sendmail` with Sendmail's options.
pub fn run(args: Vec<String>) -> ExitCode {
    crate::log::init("sendmail", crate::log::Settings::command_line(false));
    match main(&args) {
        Ok(code) => code,
        Err(Fatal(code, text)) => {
            crate::log::fatal(&text);
            ExitCode::from(code)
        }
    }
}

/// Options taking an argument, as in Postfix's getopt string
/// `B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:r:q:tvx` (`q` handled apart, since
/// `-q` alone is valid).
const WITH_ARG: &str = "BCFLNORVXbefhopr";

fn parse(args: &[String]) -> Result<Options, Fatal> {
    let mut o = Options {
        dot_ends_input: true,
        ..Options::default()
    };
    let mut i = 1;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            break;
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            // First non-option: recipients follow.
            i -= 1;
            break;
        };
        for (at, c) in flags.char_indices() {
            if c == 'q' {
                flag_q(&mut o, &flags[at + 1..], args, &mut i);
                break;
            }
            if !WITH_ARG.contains(c) {
                flag(&mut o, c)?;
                continue;
            }
            let attached = &flags[at + c.len_utf8()..];
            let value = if attached.is_empty() {
                let v = args.get(i).cloned().ok_or_else(|| {
                    Fatal(EX_USAGE, format!("option requires an argument -- '{c}'"))
                })?;
                i += 1;
                v
            } else {
                attached.to_string()
            };
            flag_value(&mut o, c, value)?;
            break;
        }
    }
    o.recipients
        .extend(args[i.min(args.len())..].iter().cloned());
    Ok(o)
}

fn flag(o: &mut Options, c: char) -> Result<(), Fatal> {
    match c {
        't' => o.extract = true,
        'i' => o.dot_ends_input = false,
        'v' => o.verbose = true,
        'I' => o.mode = Some(Mode::Newaliases),
        // Accepted and ignored, as Postfix does.
        'G' | 'U' | 'c' | 'm' | 'n' | 'x' => {}
        other => {
            return Err(Fatal(
                EX_USAGE,
                format!("usage: sendmail [options] recipient ... (bad option -{other})"),
            ))
        }
    }
    Ok(())
}

fn flag_value(o: &mut Options, c: char, value: String) -> Result<(), Fatal> {
    match c {
        // Sendmail's -C names a file; Postfix takes its directory.
        'C' => {
            o.config_dir = Some(match Path::new(&value).is_file() {
                true => Path::new(&value)
                    .parent()
                    .map_or(value.clone(), |p| p.display().to_string()),
                false => value,
            })
        }
        'F' => o.fullname = Some(value),
        'f' | 'r' => o.sender = Some(value),
        // Checked here, as Postfix's sendmail does, so pickup never meets them bad.
        'N' => {
            crate::mail::dsn::Notify::parse(&value)
                .map_err(|_| Fatal(EX_USAGE, format!("bad -N option value: {value}")))?;
            o.notify = Some(value.to_ascii_uppercase());
        }
        'R' => {
            crate::mail::dsn::Ret::parse(&value)
                .map_err(|_| Fatal(EX_USAGE, format!("bad -R option value: {value}")))?;
            o.ret = Some(value.to_ascii_uppercase());
        }
        'V' => o.envid = Some(value),
        // -oi is -i; -oX and every other Sendmail option are ignored.
        'o' if value == "i" => o.dot_ends_input = false,
        'b' => {
            o.mode = Some(match value.as_str() {
                "m" => Mode::Deliver,
                "p" => Mode::ListQueue,
                "i" => Mode::Newaliases,
                "s" => Mode::Smtp,
                "v" => Mode::Verify,
                "d" | "l" => {
                    return Err(Fatal(
                        EX_USAGE,
                        "-bd is not supported: start the mail system with \"postfix start\"".into(),
                    ))
                }
                other => return Err(Fatal(EX_USAGE, format!("unsupported: -b{other}"))),
            })
        }
        // -B body type, -L label, -O option, -X log, -e, -h, -p: ignored.
        _ => {}
    }
    Ok(())
}

/// `-q` (flush), `-qR site` (flush one site), `-qINTERVAL` (flush once; the
/// daemon keeps its own schedule).
fn flag_q(o: &mut Options, rest: &str, args: &[String], i: &mut usize) {
    o.mode = Some(Mode::Flush);
    if let Some(site) = rest.strip_prefix('R') {
        if site.is_empty() {
            o.flush_site = args.get(*i).cloned();
            *i += 1;
        } else {
            o.flush_site = Some(site.to_string());
        }
    }
}

fn main(args: &[String]) -> Result<ExitCode, Fatal> {
    let o = parse(args)?;
    let mode = o.mode.unwrap_or(Mode::Deliver);
    let conf_args = |name: &str, opt: &str| {
        let mut v = vec![name.to_string()];
        if let Some(d) = &o.config_dir {
            v.push(opt.to_string());
            v.push(d.clone());
        }
        v
    };
    match mode {
        Mode::ListQueue => {
            return Ok(super::postqueue::run(with(
                conf_args("postqueue", "-c"),
                "-p",
            )))
        }
        Mode::Flush => {
            let mut a = conf_args("postqueue", "-c");
            match &o.flush_site {
                Some(site) => a.extend(["-s".to_string(), site.clone()]),
                None => a.push("-f".into()),
            }
            return Ok(super::postqueue::run(a));
        }
        Mode::Newaliases => {
            return Ok(super::postalias::run_newaliases(conf_args(
                "newaliases",
                "-C",
            )))
        }
        _ => {}
    }
    let dir = config::config_dir(o.config_dir.as_deref());
    let cfg = Config::load(&dir).map_err(|e| Fatal(EX_CONFIG, e.to_string()))?;
    super::logging::from_config("sendmail", &cfg, o.verbose);
    let queue_dir = PathBuf::from(cfg.get(crate::master::QUEUE_DIRECTORY));
    let sender = o
        .sender
        .clone()
        .map(|s| strip_brackets(&s))
        .unwrap_or_else(login_name);
    match mode {
        Mode::Smtp => super::sendmail_smtp::serve(&cfg, &queue_dir),
        Mode::Verify => verify(&cfg, &o),
        _ => deliver(&cfg, &queue_dir, &o, sender),
    }
}

fn with(mut v: Vec<String>, extra: &str) -> Vec<String> {
    v.push(extra.to_string());
    v
}

/// `<addr>` -> `addr`, `<>` -> empty (the null sender).
fn strip_brackets(s: &str) -> String {
    let t = s.trim();
    t.strip_prefix('<')
        .and_then(|r| r.strip_suffix('>'))
        .unwrap_or(t)
        .to_string()
}

/// The submitting user's login name, as Postfix's sendmail takes the sender
/// from the password file entry of the real uid.
fn login_name() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| format!("#{}", uid.as_raw()))
}

/// The normal mode: read the message, find the recipients, drop the file.
fn deliver(cfg: &Config, queue_dir: &Path, o: &Options, sender: String) -> Result<ExitCode, Fatal> {
    if !o.extract && o.recipients.is_empty() {
        return Err(Fatal(
            EX_USAGE,
            "Recipient addresses must be specified on the command line or via the -t option".into(),
        ));
    }
    let mut input = Vec::new();
    io::stdin()
        .lock()
        .read_to_end(&mut input)
        .map_err(|e| Fatal(EX_TEMPFAIL, format!("read standard input: {e}")))?;
    let mut content = message_from_input(&input, o.dot_ends_input);
    let mut recipients: Vec<String> = o.recipients.iter().flat_map(|r| split_list(r)).collect();
    if o.extract {
        let (found, stripped) = extract_recipients(&content);
        recipients.extend(found);
        content = stripped;
        if recipients.is_empty() {
            return Err(Fatal(
                EX_USAGE,
                "No recipient addresses found in message header".into(),
            ));
        }
    }
    let env = maildrop::DropEnvelope {
        sender,
        fullname: o.fullname.clone(),
        ret: o.ret.clone(),
        envid: o.envid.clone(),
        notify: o.notify.clone(),
        recipients,
    };
    drop_message(cfg, queue_dir, &env, &content)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the maildrop file (creating the maildrop as root when the daemon
/// never ran) and wakes pickup.
pub(super) fn drop_message(
    cfg: &Config,
    queue_dir: &Path,
    env: &maildrop::DropEnvelope,
    content: &[u8],
) -> Result<String, Fatal> {
    if !maildrop::dir(queue_dir).is_dir() && crate::master::is_root() {
        let owner = crate::master::mail_owner(cfg)
            .map(|o| (o.uid.as_raw(), o.gid.as_raw()))
            .ok();
        std::fs::create_dir_all(queue_dir)
            .map_err(|e| Fatal(EX_TEMPFAIL, format!("create {}: {e}", queue_dir.display())))?;
        maildrop::ensure_dir(queue_dir, owner).map_err(|e| Fatal(EX_TEMPFAIL, e.to_string()))?;
    }
    let name = maildrop::write(queue_dir, env, content).map_err(|e| match e {
        maildrop::MaildropError::BadValue { .. } => Fatal(EX_USAGE, e.to_string()),
        _ => Fatal(
            EX_TEMPFAIL,
            format!("unable to write the maildrop file: {e}"),
        ),
    })?;
    ::log::debug!("queued in maildrop as {name}");
    pickup::trigger(queue_dir);
    Ok(name)
}

/// Recipients on the command line may be comma-separated, as Sendmail allows.
fn split_list(arg: &str) -> Vec<String> {
    arg.split(',')
        .map(|s| strip_brackets(s.trim()))
        .filter(|s| !s.is_empty())
        .collect()
}

/// `-bv`: reports, for each recipient, how it would be routed, without
/// queueing anything. (Postfix mails this report to the sender; Postern
/// prints it, one line per address.)
fn verify(cfg: &Config, o: &Options) -> Result<ExitCode, Fatal> {
    let myorigin = cfg.get(MYORIGIN);
    let destinations: Vec<String> = cfg
        .get_list(MYDESTINATION)
        .into_iter()
        .map(|d| d.to_ascii_lowercase())
        .collect();
    let mut all_ok = true;
    for r in o.recipients.iter().flat_map(|r| split_list(r)) {
        let full = if r.contains('@') {
            r.clone()
        } else {
            format!("{r}@{myorigin}")
        };
        match crate::mail::address::parse_mailbox(&full) {
            Ok(m) => {
                let domain = m.domain().map(|d| d.to_lowercase()).unwrap_or_default();
                let how = if destinations.contains(&domain) {
                    "deliverable: local (mydestination)"
                } else {
                    "deliverable: remote"
                };
                println!("{full}: {how}");
            }
            Err(e) => {
                all_ok = false;
                println!("{full}: undeliverable: {e}");
            }
        }
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_as_sendmail() {
        let o = parse(&args(&[
            "sendmail",
            "-t",
            "-oi",
            "-f",
            "<a@b>",
            "-FJoe",
            "-N",
            "success,delay",
            "-oXyz",
            "x@y",
        ]))
        .unwrap();
        assert!(o.extract && !o.dot_ends_input);
        assert_eq!(o.sender.as_deref(), Some("<a@b>"));
        assert_eq!(o.fullname.as_deref(), Some("Joe"));
        assert_eq!(o.notify.as_deref(), Some("SUCCESS,DELAY"));
        assert_eq!(o.recipients, vec!["x@y"]);
        let o = parse(&args(&["sendmail", "-bp"])).unwrap();
        assert_eq!(o.mode, Some(Mode::ListQueue));
        let o = parse(&args(&["sendmail", "-qR", "example.org"])).unwrap();
        assert_eq!(
            (o.mode, o.flush_site.as_deref()),
            (Some(Mode::Flush), Some("example.org"))
        );
        let o = parse(&args(&["sendmail", "-q"])).unwrap();
        assert_eq!(o.mode, Some(Mode::Flush));
        let o = parse(&args(&["sendmail", "-ti", "-C", "/etc/x", "--", "-odd"])).unwrap();
        assert_eq!(o.config_dir.as_deref(), Some("/etc/x"));
        assert_eq!(o.recipients, vec!["-odd"]);
        assert!(parse(&args(&["sendmail", "-f"])).is_err());
        assert!(parse(&args(&["sendmail", "-N", "sometimes", "x"])).is_err());
        assert!(parse(&args(&["sendmail", "-R", "all", "x"])).is_err());
    }

    #[test]
    fn brackets_and_lists() {
        assert_eq!(strip_brackets("<>"), "");
        assert_eq!(strip_brackets(" <u@h> "), "u@h");
        assert_eq!(split_list("a@b, <c@d>"), vec!["a@b", "c@d"]);
    }
}
