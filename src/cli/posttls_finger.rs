//! `posttls-finger`: probe the TLS of a remote SMTP server — connect, EHLO,
//! STARTTLS, and report the certificate, its fingerprints and what the chosen
//! security level would decide, in Postfix's words.
//!
//! Mirrors Postfix `src/posttls-finger/posttls-finger.c` (options, output
//! lines, exit status: 0 once a probe ran, 1 for usage and fatal errors).
//! Configuration comes from `$MAIL_CONFIG` or /etc/postfix, with `-o
//! name=value` overrides, as Postfix. Parameters read: `myhostname` (EHLO
//! name), `smtp_tls_fingerprint_digest` (default of `-d`), `inet_protocols`,
//! `dns_nameservers` (Postern addition; else /etc/resolv.conf) and the
//! `tls_*` globals. Like Postfix's, it consults no policy table and keeps its
//! TLS session cache in memory.
//!
//! Not supported (refused with a message): LMTP (`-S`), tlsproxy (`-X`), DANE
//! (no DNSSEC; the default level is `secure`, as Postfix without DNSSEC),
//! reconnection (`-r`), trust anchors (`-A`), chain files (`-H`).

mod chat;
mod report;

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use crate::config::Config;
use crate::dns::{Family, Nexthop, Resolver, ResolverSettings};
use crate::tls::{ClientPolicy, ClientSettings, FingerprintDigest, TlsLevel};

const USAGE: &str =
    "usage: posttls-finger [-acCfSvw] [-t conn_tmout] [-T cmd_tmout] [-L logopts] \\
\t[-h host_lookup] [-l level] [-d mdalg] [-g grade] [-p protocols] \\
\t[-A tafile] [-F CAfile.pem] [-P CApath/] [-s servername] \\
\t[ [-H chainfiles] | [-k certfile [-K keyfile]] ] \\
\t[-m count] [-r delay] [-o name=value] destination [match ...]";

/// What `-L` turns on (Postfix `tls_log_mask` names).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOpts {
    /// The one-line summary (`routine`, `summary`, `1`).
    pub summary: bool,
    /// Name and fingerprint matching, and the certificate line (`certmatch`).
    pub certmatch: bool,
    /// The certificate line (`peercert`).
    pub peercert: bool,
}

impl LogOpts {
    fn parse(value: &str) -> LogOpts {
        let mut o = LogOpts::default();
        for word in value
            .split(|c: char| c == ',' || c == ':' || c.is_whitespace())
            .filter(|w| !w.is_empty())
        {
            match word.to_ascii_lowercase().as_str() {
                "0" | "none" => {}
                "1" | "routine" | "summary" => o.summary = true,
                "2" | "3" | "4" | "debug" | "ssl-expert" | "ssl-developer" | "verbose" => {
                    o = LogOpts {
                        summary: true,
                        certmatch: true,
                        peercert: true,
                    }
                }
                "certmatch" => o.certmatch = true,
                "peercert" => o.peercert = true,
                "untrusted"
                | "cache"
                | "ssl-debug"
                | "ssl-handshake-packet-dump"
                | "ssl-session-packet-dump"
                | "dane" => {}
                // As Postfix's tls_log_mask: warned about, then ignored.
                _ => say(&format!(
                    "warning: unknown -L option value \"{word}\" in \"{value}\""
                )),
            }
        }
        o
    }
}

/// The command line, parsed.
#[derive(Debug, Clone)]
pub struct Options {
    pub no_chat: bool,
    pub print_chain: bool,
    pub level: TlsLevel,
    pub digest: String,
    pub cafile: String,
    pub capath: String,
    pub grade: String,
    pub protocols: String,
    pub servername: String,
    pub certfile: String,
    pub keyfile: String,
    pub conn_timeout: Duration,
    pub cmd_timeout: Duration,
    pub log: LogOpts,
    pub wrapper: bool,
    pub family: Option<Family>,
    pub overrides: Vec<(String, String)>,
    pub destination: String,
    pub matches: Vec<String>,
}

/// A failure that ends the program with exit status 1.
enum Fatal {
    /// Printed on stderr, as getopt's complaints and the usage text.
    Usage(String),
    /// Printed as `posttls-finger: fatal: ...` on stdout, as Postfix's msg_fatal.
    Fatal(String),
}

pub fn run(args: Vec<String>) -> ExitCode {
    crate::log::init("posttls-finger", crate::log::Settings::command_line(false));
    match main(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fatal::Usage(text)) => {
            eprintln!("{text}");
            ExitCode::from(1)
        }
        Err(Fatal::Fatal(text)) => {
            say(&format!("fatal: {text}"));
            ExitCode::from(1)
        }
    }
}

/// One output line, as Postfix's posttls-finger writes them (to stdout).
pub fn say(text: &str) {
    println!("posttls-finger: {text}");
}

fn timeout(flag: char, value: &str) -> Result<Duration, Fatal> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_secs(n)),
        // Postfix: 0 waits without a limit; a day stands in for that.
        Ok(_) => Ok(Duration::from_secs(86_400)),
        _ => Err(Fatal::Fatal(format!(
            "Invalid -{flag} option value: {value}"
        ))),
    }
}

fn parse(args: &[String]) -> Result<(Options, Option<String>), Fatal> {
    let mut g = getopts::Options::new();
    for f in [
        "a", "A", "d", "F", "g", "h", "H", "k", "K", "l", "L", "m", "M",
    ] {
        g.optmulti(f, "", "", "");
    }
    for f in ["o", "p", "P", "r", "s", "t", "T"] {
        g.optmulti(f, "", "", "");
    }
    for f in ["c", "C", "f", "S", "v", "w", "X"] {
        g.optflagmulti(f, "", "");
    }
    let m = g.parse(&args[1.min(args.len())..]).map_err(|e| {
        // getopt(3)'s words, as Postfix's posttls-finger prints them.
        let text = match e {
            getopts::Fail::UnrecognizedOption(o) => {
                format!("invalid option -- '{}'", o.trim_start_matches('-'))
            }
            getopts::Fail::ArgumentMissing(o) => {
                format!(
                    "option requires an argument -- '{}'",
                    o.trim_start_matches('-')
                )
            }
            other => other.to_string(),
        };
        Fatal::Usage(format!("posttls-finger: {text}\n{USAGE}"))
    })?;
    let last = |f: &str| m.opt_strs(f).last().cloned();
    for (flag, what) in [
        ("S", "LMTP (-S)"),
        ("X", "tlsproxy mode (-X)"),
        ("A", "trust anchor files (-A)"),
        ("H", "chain files (-H)"),
        ("r", "reconnection (-r)"),
    ] {
        if m.opt_present(flag) {
            return Err(Fatal::Fatal(format!("{what} is not supported by Postern")));
        }
    }
    let level_name = last("l").unwrap_or_else(|| "secure".into());
    let level = TlsLevel::lookup(&level_name)
        .map_err(|_| Fatal::Fatal(format!("Invalid TLS level \"{level_name}\"")))?;
    let log = LogOpts::parse(&last("L").unwrap_or_else(|| "routine,certmatch".into()));
    let family = match last("a").as_deref() {
        None | Some("any") => None,
        Some("ipv4") => Some(Family::Ipv4),
        Some("ipv6") => Some(Family::Ipv6),
        Some(other) => return Err(Fatal::Fatal(format!("bad '-a' option value: {other}"))),
    };
    let mut overrides = Vec::new();
    for o in m.opt_strs("o") {
        let Some((n, v)) = o.split_once('=') else {
            return Err(Fatal::Usage(USAGE.into()));
        };
        overrides.push((n.trim().to_string(), v.trim().to_string()));
    }
    let mut free = m.free.clone().into_iter();
    let Some(destination) = free.next() else {
        return Err(Fatal::Usage(USAGE.into()));
    };
    let certfile = last("k").unwrap_or_default();
    let keyfile = last("K").unwrap_or_default();
    let opts = Options {
        no_chat: m.opt_present("c"),
        print_chain: m.opt_present("C"),
        level,
        digest: String::new(),
        cafile: last("F").unwrap_or_default(),
        capath: last("P").unwrap_or_default(),
        grade: last("g").unwrap_or_else(|| "medium".into()),
        protocols: last("p").unwrap_or_else(|| ">=TLSv1".into()),
        servername: last("s").unwrap_or_default(),
        certfile: if certfile.is_empty() {
            keyfile.clone()
        } else {
            certfile.clone()
        },
        keyfile: if keyfile.is_empty() {
            certfile
        } else {
            keyfile
        },
        conn_timeout: last("t").map_or(Ok(Duration::from_secs(30)), |v| timeout('t', &v))?,
        cmd_timeout: last("T").map_or(Ok(Duration::from_secs(30)), |v| timeout('T', &v))?,
        log,
        wrapper: m.opt_present("w"),
        family,
        overrides,
        destination,
        matches: free.collect(),
    };
    Ok((opts, last("d")))
}

fn load_config(opts: &Options) -> Result<Config, Fatal> {
    let dir = crate::config::config_dir(None);
    let cfg = Config::load(&dir).map_err(|e| Fatal::Fatal(e.to_string()))?;
    cfg.with_overrides(&opts.overrides)
        .map_err(|e| Fatal::Fatal(e.to_string()))
}

fn main(args: &[String]) -> Result<(), Fatal> {
    let (mut opts, digest) = parse(args)?;
    let cfg = load_config(&opts)?;
    opts.digest = digest.unwrap_or_else(|| cfg.get("smtp_tls_fingerprint_digest"));
    // As Postfix: a bad digest or TLS setting disables TLS, the probe goes on.
    let tls = match tls_setup(&cfg, &opts) {
        Ok(t) => Some(t),
        Err(warning) => {
            say(&format!("warning: {warning}"));
            say("warning: disabling TLS support");
            None
        }
    };
    let dest = Destination::parse(&opts.destination).map_err(Fatal::Fatal)?;
    let family = opts.family.unwrap_or_else(|| {
        Family::from_inet_protocols(&cfg.get("inet_protocols")).unwrap_or(Family::All)
    });
    let targets = match resolve(&cfg, &dest, family) {
        Ok(t) => t,
        Err(text) => {
            say(&text);
            return Ok(());
        }
    };
    let helo = cfg.get("myhostname");
    for (host, addr) in targets {
        let peer = crate::tls::ServerPeer {
            nexthop: dest.domain.clone(),
            hostname: host.clone(),
            addr: addr.to_string(),
            port: dest.port,
        };
        let sock = SocketAddr::new(addr, dest.port);
        match TcpStream::connect_timeout(&sock, opts.conn_timeout) {
            Ok(tcp) => {
                let probe = chat::Probe {
                    opts: &opts,
                    tls: tls.as_ref(),
                    peer: &peer,
                    helo: &helo,
                };
                probe.run(tcp);
                return Ok(());
            }
            Err(e) => say(&format!(
                "Failed to establish session to {} via {host}: connect to {}: {}",
                opts.destination,
                peer.namaddrport(),
                crate::config::io_text(&e)
            )),
        }
    }
    Ok(())
}

/// The TLS context and the policy of the probe.
pub struct TlsSetup {
    pub ctx: crate::tls::ClientContext,
    pub policy: ClientPolicy,
    pub digest: FingerprintDigest,
    pub multi_label: bool,
}

fn tls_setup(cfg: &Config, opts: &Options) -> Result<TlsSetup, String> {
    let digest = FingerprintDigest::lookup("-d", &opts.digest)
        .map_err(|_| format!("Digest algorithm \"{}\" not found", opts.digest))?;
    let tls = crate::smtp::tls_config::tls_globals(cfg).map_err(|e| e.to_string())?;
    let settings = ClientSettings {
        smtp_tls_security_level: opts.level,
        smtp_tls_cert_file: opts.certfile.clone(),
        smtp_tls_key_file: opts.keyfile.clone(),
        smtp_tls_CAfile: opts.cafile.clone(),
        smtp_tls_CApath: opts.capath.clone(),
        smtp_tls_protocols: opts.protocols.clone(),
        smtp_tls_mandatory_protocols: opts.protocols.clone(),
        smtp_tls_ciphers: opts.grade.clone(),
        smtp_tls_mandatory_ciphers: opts.grade.clone(),
        smtp_tls_servername: opts.servername.clone(),
        smtp_tls_fingerprint_digest: digest.name().to_string(),
        smtp_tls_session_cache_timeout: Duration::ZERO,
        smtp_tls_loglevel: 1,
        tls,
        ..ClientSettings::default()
    };
    crate::smtp::tls_config::check(&settings).map_err(|e| e.to_string())?;
    let multi_label = settings.tls.tls_wildcard_matches_multiple_labels;
    let ctx = crate::tls::ClientContext::new(&settings).map_err(|e| e.to_string())?;
    let matches = if opts.matches.is_empty() {
        None
    } else {
        Some(opts.matches.clone())
    };
    let policy = ClientPolicy {
        level: opts.level,
        matches,
        ..ClientPolicy::default()
    };
    Ok(TlsSetup {
        ctx,
        policy,
        digest,
        multi_label,
    })
}

/// `[inet:]domain[:port]` or `[host]:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The name part as given, brackets included (for DNS).
    pub name: String,
    /// The domain without brackets (the "nexthop" of match patterns).
    pub domain: String,
    pub port: u16,
}

impl Destination {
    /// Parses as Postfix's `parse_destination`; the error is its fatal text.
    pub fn parse(text: &str) -> Result<Destination, String> {
        let bad = || format!("bad destination: {text}");
        let unknown = |p: &str| format!("unknown service: {p}/tcp");
        let text = text.strip_prefix("inet:").unwrap_or(text);
        let (name, port) = if text.starts_with('[') {
            let close = text.find(']').ok_or_else(bad)?;
            let rest = &text[close + 1..];
            let port = match rest.strip_prefix(':') {
                Some(p) => service_port(p).ok_or_else(|| unknown(p))?,
                None if rest.is_empty() => 25,
                None => return Err(bad()),
            };
            (&text[..=close], port)
        } else {
            match text.rsplit_once(':') {
                Some((n, p)) => (n, service_port(p).ok_or_else(|| unknown(p))?),
                None => (text, 25),
            }
        };
        if name.is_empty() || name == "[]" {
            return Err(bad());
        }
        let domain = name.trim_start_matches('[').trim_end_matches(']');
        let domain = match domain.get(..5) {
            Some(tag) if tag.eq_ignore_ascii_case("ipv6:") => &domain[5..],
            _ => domain,
        };
        Ok(Destination {
            name: name.to_string(),
            domain: domain.to_string(),
            port,
        })
    }
}

/// A port number or one of the mail service names of /etc/services.
fn service_port(text: &str) -> Option<u16> {
    match text {
        "smtp" => Some(25),
        "submission" => Some(587),
        "smtps" | "submissions" => Some(465),
        "lmtp" => Some(24),
        n => n.parse().ok().filter(|p| *p > 0),
    }
}

/// The resolver: `dns_nameservers` (Postern addition) when set, else
/// /etc/resolv.conf.
fn resolver(cfg: &Config) -> Result<Resolver, String> {
    let servers = cfg.get("dns_nameservers");
    let first = crate::util::split_list(&servers).into_iter().next();
    let settings = match first {
        Some(server) => {
            let (addr, port) = match server.strip_prefix('[') {
                Some(rest) => {
                    let (a, p) = rest.split_once(']').ok_or("bad dns_nameservers")?;
                    let port = match p.strip_prefix(':') {
                        Some(p) => p.parse().map_err(|_| "bad dns_nameservers port")?,
                        None => 53,
                    };
                    (a.to_string(), port)
                }
                None => (server.clone(), 53),
            };
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("bad dns_nameservers value: {server}"))?;
            ResolverSettings::with_nameserver(addr, port)
        }
        None => ResolverSettings::from_resolv_conf(std::path::Path::new("/etc/resolv.conf"))
            .map_err(|e| e.to_string())?,
    };
    Ok(Resolver::new(settings))
}

/// The hosts to try, in order: MX hosts for a bare domain, the host's own
/// addresses for `[host]`, the address itself for `[address]`.
fn resolve(
    cfg: &Config,
    dest: &Destination,
    family: Family,
) -> Result<Vec<(String, IpAddr)>, String> {
    let nexthop = Nexthop::parse(&dest.name).map_err(|e| e.to_string())?;
    if let Nexthop::Address(addr) = nexthop {
        return Ok(vec![(addr.to_string(), addr)]);
    }
    let mut r = resolver(cfg)?;
    let targets = r
        .nexthop_targets(&nexthop, family)
        .map_err(|e| format!("Destination address lookup failed: {e}"))?;
    Ok(targets.into_iter().map(|t| (t.host, t.addr)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        let d = Destination::parse("[127.0.0.1]:2525").unwrap();
        assert_eq!((d.domain.as_str(), d.port), ("127.0.0.1", 2525));
        let d = Destination::parse("inet:example.com:submission").unwrap();
        assert_eq!((d.name.as_str(), d.port), ("example.com", 587));
        let d = Destination::parse("[mx.example.com]").unwrap();
        assert_eq!((d.domain.as_str(), d.port), ("mx.example.com", 25));
        let d = Destination::parse("[IPv6:::1]:25").unwrap();
        assert_eq!(d.domain, "::1");
        assert!(Destination::parse("[x]junk").is_err());
        assert_eq!(
            Destination::parse("example.com:nosuchservice").unwrap_err(),
            "unknown service: nosuchservice/tcp"
        );
    }

    #[test]
    fn log_options() {
        let o = LogOpts::parse("routine,certmatch");
        assert!(o.summary && o.certmatch && !o.peercert);
        let o = LogOpts::parse("none");
        assert!(!o.summary && !o.certmatch);
        let o = LogOpts::parse("loud, peercert");
        assert!(!o.summary && o.peercert);
    }
}
