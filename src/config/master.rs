//! The master.cf reader: one `Service` per entry (service, type, private,
//! unprivileged, chroot, wakeup, maxproc, command and arguments), with its
//! `-o name=value` overrides and its line, and Postfix's `postconf -M/-F/-P` forms.
//!
//! Mirrors Postfix master_ent.c and postconf_master.c. Comments, blank lines and
//! continuation lines follow main.cf rules; `{ text with spaces }` is one argument
//! (Postfix 3.0). Reads no main.cf parameters.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::maincf::LogicalLines;
use super::ConfigError;

/// The service types master(8) knows.
pub const SERVICE_TYPES: &[&str] = &["inet", "unix", "unix-dgram", "fifo", "pass"];

/// One master.cf entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    /// `inet`, `unix`, `unix-dgram`, `fifo` or `pass`.
    pub kind: String,
    pub private: String,
    pub unprivileged: String,
    pub chroot: String,
    pub wakeup: String,
    pub process_limit: String,
    pub command: String,
    /// The arguments after the command, `-o` pairs included, in Postfix's printed form.
    pub args: Vec<String>,
    /// The `-o name=value` overrides, in order.
    pub options: Vec<(String, String)>,
    pub line: usize,
}

impl Service {
    /// `name/type`, as `postconf -M` requests name a service.
    pub fn id(&self) -> String {
        format!("{}/{}", self.name, self.kind)
    }

    /// The command with its arguments, one space apart (`postconf -F` `command`).
    pub fn command_line(&self) -> String {
        let mut s = self.command.clone();
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }

    /// The eight fields in master.cf order, with their `postconf -F` names.
    pub fn fields(&self) -> [(&'static str, String); 8] {
        [
            ("service", self.name.clone()),
            ("type", self.kind.clone()),
            ("private", self.private.clone()),
            ("unprivileged", self.unprivileged.clone()),
            ("chroot", self.chroot.clone()),
            ("wakeup", self.wakeup.clone()),
            ("process_limit", self.process_limit.clone()),
            ("command", self.command_line()),
        ]
    }

    /// The entry as `postconf -M` prints it: fields padded to master.cf's columns,
    /// a field that overflows its column pushing the next one right by one space.
    pub fn format_line(&self) -> String {
        const COLUMNS: [usize; 8] = [0, 11, 17, 25, 33, 41, 49, 57];
        let mut out = String::new();
        for (i, (_, value)) in self.fields().iter().enumerate() {
            if i > 0 {
                let target = COLUMNS[i].max(out.len() + 1);
                while out.len() < target {
                    out.push(' ');
                }
            }
            out.push_str(value);
        }
        out
    }

    /// Does `request` (`name` or `name/type`) select this service?
    pub fn matches(&self, request: &str) -> bool {
        match request.split_once('/') {
            Some((n, t)) => n == self.name && t == self.kind,
            None => request == self.name,
        }
    }
}

/// The parsed master.cf.
#[derive(Debug, Clone, Default)]
pub struct MasterCf {
    pub path: PathBuf,
    pub services: Vec<Service>,
    pub warnings: Vec<String>,
}

impl MasterCf {
    /// Reads and parses `path`.
    pub fn read(path: &Path) -> Result<MasterCf, ConfigError> {
        let file = std::fs::File::open(path).map_err(|source| ConfigError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, file)
    }

    /// Parses master.cf text from `input`; `path` names it in messages.
    pub fn parse(path: &Path, input: impl Read) -> Result<MasterCf, ConfigError> {
        let mut cf = MasterCf {
            path: path.to_path_buf(),
            ..MasterCf::default()
        };
        for logical in LogicalLines::new(path, input) {
            let (line, bytes) = logical?;
            let text = String::from_utf8(bytes).map_err(|_| ConfigError::Master {
                path: path.to_path_buf(),
                line,
                reason: "text is not valid UTF-8".into(),
            })?;
            if text.starts_with(|c: char| c.is_ascii_whitespace()) {
                cf.warnings.push(format!(
                    "{}, line {line}: logical line must not start with whitespace: \"{text}\"",
                    path.display()
                ));
                continue;
            }
            let service = parse_entry(path, line, &text, &mut cf.warnings)?;
            cf.services.push(service);
        }
        Ok(cf)
    }

    /// The services selected by `request` (`name` or `name/type`).
    pub fn select<'a>(&'a self, request: &'a str) -> impl Iterator<Item = &'a Service> + 'a {
        self.services.iter().filter(move |s| s.matches(request))
    }
}

fn parse_entry(
    path: &Path,
    line: usize,
    text: &str,
    warnings: &mut Vec<String>,
) -> Result<Service, ConfigError> {
    let bad = |reason: String| ConfigError::Master {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let tokens = tokenize(text, |t| {
        warnings.push(format!(
            "{}, line {line}: missing '}}' in \"{t}\"",
            path.display()
        ))
    });
    if tokens.len() < 8 {
        return Err(bad("bad field count".into()));
    }
    let field = |i: usize, what: &str, ok: bool| -> Result<String, ConfigError> {
        if ok {
            Ok(tokens[i].text.clone())
        } else {
            Err(bad(format!(
                "invalid {what} field \"{}\" in \"{text}\"",
                tokens[i].text
            )))
        }
    };
    let yn = |i: usize| matches!(tokens[i].text.as_str(), "y" | "n" | "-");
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    let wake = tokens[5].text.as_str();
    let wake_ok = wake == "-" || digits(wake.strip_suffix('?').unwrap_or(wake));
    let maxproc = tokens[6].text.as_str();
    let mut svc = Service {
        name: tokens[0].text.clone(),
        kind: field(1, "type", SERVICE_TYPES.contains(&tokens[1].text.as_str()))?,
        private: field(2, "private", yn(2))?,
        unprivileged: field(3, "unprivileged", yn(3))?,
        chroot: field(4, "chroot", yn(4))?,
        wakeup: field(5, "wakeup", wake_ok)?,
        process_limit: field(6, "process_limit", maxproc == "-" || digits(maxproc))?,
        command: tokens[7].text.clone(),
        args: Vec::new(),
        options: Vec::new(),
        line,
    };
    let mut rest = tokens[8..].iter();
    let mut seen_plain = false;
    while let Some(tok) = rest.next() {
        if tok.text == "-o" && !tok.braced {
            let Some(arg) = rest.next() else {
                svc.args.push("-o".into());
                break;
            };
            match arg.text.split_once('=') {
                Some((n, v)) => {
                    let (n, v) = (n.trim().to_string(), v.trim().to_string());
                    let shown = if v.contains(char::is_whitespace) {
                        format!("{{{n}={v}}}")
                    } else {
                        format!("{n}={v}")
                    };
                    svc.args.push("-o".into());
                    svc.args.push(shown);
                    svc.options.push((n, v));
                }
                None => {
                    svc.args.push("-o".into());
                    svc.args.push(arg.text.clone());
                }
            }
        } else if !seen_plain && (tok.braced || !tok.text.starts_with('-')) {
            // Postfix 3.7 `postconf -M` prints the first non-option argument
            // without its braces, and later ones with them when they hold spaces.
            seen_plain = true;
            svc.args.push(tok.text.clone());
        } else if tok.braced && tok.text.contains(char::is_whitespace) {
            svc.args.push(format!("{{{}}}", tok.text));
        } else {
            svc.args.push(tok.text.clone());
        }
    }
    Ok(svc)
}

struct Token {
    text: String,
    braced: bool,
}

/// Splits on whitespace; `{ a b }` is one token `a b` (outer whitespace trimmed).
fn tokenize(text: &str, mut unbalanced: impl FnMut(&str)) -> Vec<Token> {
    let mut out = Vec::new();
    let mut s = text.trim_start();
    while !s.is_empty() {
        if s.starts_with('{') {
            let mut depth = 0usize;
            let mut end = None;
            for (i, c) in s.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = Some(i);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let (inner, rest) = match end {
                Some(e) => (&s[1..e], &s[e + 1..]),
                None => {
                    unbalanced(s);
                    (&s[1..], "")
                }
            };
            out.push(Token {
                text: inner.trim().to_string(),
                braced: true,
            });
            s = rest.trim_start();
        } else {
            let end = s.find(|c: char| c.is_ascii_whitespace()).unwrap_or(s.len());
            out.push(Token {
                text: s[..end].to_string(),
                braced: false,
            });
            s = s[end..].trim_start();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MasterCf, ConfigError> {
        MasterCf::parse(Path::new("/x/master.cf"), text.as_bytes())
    }

    #[test]
    fn entries_options_and_format() {
        let cf = parse(
            "# comment\nsmtp      inet  n       -       y       -       -       smtpd\n\
             sub inet n - y - - smtpd\n  -o { smtpd_tls_security_level = encrypt }  -o  x=y\n# c\n  -o a=b\n\
             postlog   unix-dgram n  -       n       -       1       postlogd\n\
             scalemail-backend unix - n n - 2 pipe flags=R user=s argv=/bin/x ${nexthop}\n",
        )
        .unwrap();
        assert_eq!(cf.services.len(), 4);
        let sub = &cf.services[1];
        assert_eq!(sub.line, 3);
        assert_eq!(
            sub.options,
            [
                (
                    "smtpd_tls_security_level".to_string(),
                    "encrypt".to_string()
                ),
                ("x".into(), "y".into()),
                ("a".into(), "b".into())
            ]
        );
        assert_eq!(
            sub.format_line(),
            "sub        inet  n       -       y       -       -       smtpd -o smtpd_tls_security_level=encrypt -o x=y -o a=b"
        );
        assert_eq!(
            cf.services[2].format_line(),
            "postlog    unix-dgram n  -       n       -       1       postlogd"
        );
        assert_eq!(
            cf.services[3].format_line(),
            "scalemail-backend unix - n       n       -       2       pipe flags=R user=s argv=/bin/x ${nexthop}"
        );
        let braces = parse(
            "a inet n - y - - smtpd { x y }\nh inet n - y - - smtpd {x} {y z}\n\
             e unix - n n - 2 pipe  argv=/bin/cat {  x y }  z\n",
        )
        .unwrap();
        let lines: Vec<String> = braces.services.iter().map(|s| s.command_line()).collect();
        assert_eq!(
            lines,
            ["smtpd x y", "smtpd x {y z}", "pipe argv=/bin/cat {x y} z"]
        );
        assert_eq!(cf.select("smtp").count(), 1);
        assert_eq!(cf.select("sub/inet").count(), 1);
        assert_eq!(cf.select("sub/unix").count(), 0);
    }

    #[test]
    fn braced_values_keep_spaces() {
        let cf = parse("smtp inet n - y - - smtpd -o { a = b c } { x y }\n").unwrap();
        assert_eq!(cf.services[0].command_line(), "smtpd -o {a=b c} x y");
        assert_eq!(
            cf.services[0].options,
            [("a".to_string(), "b c".to_string())]
        );
    }

    #[test]
    fn errors() {
        let e = parse("smtp inet n - y\n").unwrap_err().to_string();
        assert_eq!(e, "file /x/master.cf: line 1: bad field count");
        let e = parse("\nsmtp bogus n - y - - smtpd\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "file /x/master.cf: line 2: invalid type field \"bogus\" in \"smtp bogus n - y - - smtpd\""
        );
        assert!(parse("smtp inet n - y abc - smtpd\n").is_err());
        assert!(parse("smtp inet n - y - x smtpd\n").is_err());
        assert!(parse("smtp inet n - y 60? 1 smtpd\n").is_ok());
    }

    #[test]
    fn stock_master_cf_parses() {
        let path = Path::new("/usr/share/postfix/master.cf.dist");
        assert!(
            path.exists(),
            "{} is missing: install the postfix package (CI does)",
            path.display()
        );
        let cf = MasterCf::read(path).unwrap();
        assert!(cf.services.iter().any(|s| s.id() == "smtp/inet"));
        assert!(cf.warnings.is_empty(), "{:?}", cf.warnings);
        let relay = cf.select("relay/unix").next().unwrap();
        assert_eq!(
            relay.options,
            [(
                "syslog_name".to_string(),
                "postfix/$service_name".to_string()
            )]
        );
    }

    #[test]
    fn non_utf8_names_file_and_line() {
        let text: &[u8] = b"# c\nsmtp inet n - y - - smtpd \xff\n";
        let e = MasterCf::parse(Path::new("/x/master.cf"), text)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "file /x/master.cf: line 2: text is not valid UTF-8");
    }
}
