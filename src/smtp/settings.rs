//! The smtp client's non-TLS parameters, read once per transport into typed
//! values (TLS parameters are tls_config.rs's job).
//!
//! Mirrors the parameter tables of Postfix smtp.c `main()` (`time_table`,
//! `int_table`, `bool_table`, `str_table`) for the settings Postern implements.
//! Reads the parameters named in `names` below, with the service's `-o`
//! overrides already applied by the caller.

use std::net::IpAddr;
use std::time::Duration;

use super::SmtpError;
use crate::config::Config;
use crate::dns::{Family, ResolverSettings};

/// The parameter names this file reads, in one place.
pub mod names {
    pub const MYHOSTNAME: &str = "myhostname";
    pub const SMTP_HELO_NAME: &str = "smtp_helo_name";
    pub const SMTP_TCP_PORT: &str = "smtp_tcp_port";
    pub const SMTP_TLS_WRAPPERMODE: &str = "smtp_tls_wrappermode";
    pub const SMTP_BIND_ADDRESS: &str = "smtp_bind_address";
    pub const SMTP_BIND_ADDRESS6: &str = "smtp_bind_address6";
    pub const INET_PROTOCOLS: &str = "inet_protocols";
    pub const SMTP_CONNECT_TIMEOUT: &str = "smtp_connect_timeout";
    pub const SMTP_HELO_TIMEOUT: &str = "smtp_helo_timeout";
    pub const SMTP_STARTTLS_TIMEOUT: &str = "smtp_starttls_timeout";
    pub const SMTP_MAIL_TIMEOUT: &str = "smtp_mail_timeout";
    pub const SMTP_RCPT_TIMEOUT: &str = "smtp_rcpt_timeout";
    pub const SMTP_DATA_INIT_TIMEOUT: &str = "smtp_data_init_timeout";
    pub const SMTP_DATA_XFER_TIMEOUT: &str = "smtp_data_xfer_timeout";
    pub const SMTP_DATA_DONE_TIMEOUT: &str = "smtp_data_done_timeout";
    pub const SMTP_RSET_TIMEOUT: &str = "smtp_rset_timeout";
    pub const SMTP_QUIT_TIMEOUT: &str = "smtp_quit_timeout";
    pub const SMTP_MX_ADDRESS_LIMIT: &str = "smtp_mx_address_limit";
    pub const SMTP_MX_SESSION_LIMIT: &str = "smtp_mx_session_limit";
    pub const SMTP_SKIP_5XX_GREETING: &str = "smtp_skip_5xx_greeting";
    pub const SMTP_NEVER_SEND_EHLO: &str = "smtp_never_send_ehlo";
    pub const SMTP_CONNECTION_CACHE_ON_DEMAND: &str = "smtp_connection_cache_on_demand";
    pub const SMTP_CONNECTION_CACHE_TIME_LIMIT: &str = "smtp_connection_cache_time_limit";
    pub const SMTP_LOG_TLS_FEATURE_STATUS: &str = "smtp_log_tls_feature_status";
    pub const MINIMAL_BACKOFF_TIME: &str = "minimal_backoff_time";
    pub const DNS_NAMESERVERS: &str = "dns_nameservers";
}

/// Everything a delivery needs from main.cf apart from TLS.
#[derive(Debug, Clone)]
pub struct Settings {
    pub helo_name: String,
    /// Port for nexthops without `:port`.
    pub default_port: u16,
    /// TLS from the first byte (port 465), no STARTTLS.
    pub wrappermode: bool,
    pub bind_address: Option<IpAddr>,
    pub bind_address6: Option<IpAddr>,
    pub family: Family,
    pub connect_timeout: Duration,
    pub helo_timeout: Duration,
    pub starttls_timeout: Duration,
    pub mail_timeout: Duration,
    pub rcpt_timeout: Duration,
    pub data_init_timeout: Duration,
    pub data_xfer_timeout: Duration,
    pub data_done_timeout: Duration,
    pub rset_timeout: Duration,
    pub quit_timeout: Duration,
    /// Addresses tried per delivery; 0 is no limit.
    pub mx_address_limit: usize,
    /// SMTP sessions (greeting received) per delivery; 0 is no limit.
    pub mx_session_limit: usize,
    pub skip_5xx_greeting: bool,
    pub never_send_ehlo: bool,
    pub cache_on_demand: bool,
    pub cache_time_limit: Duration,
    pub log_tls_feature_status: bool,
    pub minimal_backoff_time: Duration,
    pub resolver: ResolverSettings,
}

fn count(cfg: &Config, name: &str) -> Result<usize, SmtpError> {
    Ok(usize::try_from(cfg.get_int(name)?).unwrap_or(0))
}

/// `smtp_tcp_port`: a number or one of the service names Postfix users write.
pub fn parse_port(value: &str) -> Option<u16> {
    match value.trim() {
        "smtp" => Some(25),
        "submission" => Some(587),
        "smtps" | "submissions" | "urd" => Some(465),
        "lmtp" => Some(24),
        n => n.parse().ok().filter(|p| *p != 0),
    }
}

/// One `dns_nameservers` entry: `address` or `[address]:port`.
fn parse_nameserver(word: &str) -> Option<(IpAddr, Option<u16>)> {
    if let Some(rest) = word.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        return Some((addr.parse().ok()?, port));
    }
    Some((word.parse().ok()?, None))
}

/// `dns_nameservers`: empty means resolv.conf. One port serves all servers (the
/// resolver's design), so differing ports are refused.
pub fn resolver_settings(value: &str) -> Result<ResolverSettings, SmtpError> {
    let words: Vec<&str> = value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        return ResolverSettings::from_resolv_conf(std::path::Path::new("/etc/resolv.conf"))
            .or_else(|_| Ok(ResolverSettings::default()));
    }
    let bad = || SmtpError::BadValue {
        param: names::DNS_NAMESERVERS,
        value: value.to_string(),
    };
    let mut settings = ResolverSettings::default();
    settings.nameservers.clear();
    let mut port: Option<u16> = None;
    for w in words {
        let (addr, p) = parse_nameserver(w).ok_or_else(bad)?;
        let p = p.unwrap_or(53);
        if port.is_some_and(|q| q != p) {
            return Err(bad());
        }
        port = Some(p);
        settings.nameservers.push(addr);
    }
    settings.port = port.unwrap_or(53);
    Ok(settings)
}

fn bind(cfg: &Config, name: &'static str) -> Result<Option<IpAddr>, SmtpError> {
    let value = cfg.get(name);
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| SmtpError::BadValue {
        param: name,
        value: value.to_string(),
    })
}

impl Settings {
    pub fn read(cfg: &Config) -> Result<Settings, SmtpError> {
        use names::*;
        let port_text = cfg.get(SMTP_TCP_PORT);
        let default_port = parse_port(&port_text).ok_or_else(|| SmtpError::BadValue {
            param: SMTP_TCP_PORT,
            value: port_text.clone(),
        })?;
        let protocols = cfg.get(INET_PROTOCOLS);
        let family = Family::from_inet_protocols(&protocols).ok_or(SmtpError::BadValue {
            param: INET_PROTOCOLS,
            value: protocols.clone(),
        })?;
        let mut helo_name = cfg.get(SMTP_HELO_NAME).trim().to_string();
        if helo_name.is_empty() {
            helo_name = cfg.get(MYHOSTNAME);
        }
        let t = |n: &str| cfg.get_time(n);
        Ok(Settings {
            helo_name,
            default_port,
            wrappermode: cfg.get_bool(SMTP_TLS_WRAPPERMODE)?,
            bind_address: bind(cfg, SMTP_BIND_ADDRESS)?,
            bind_address6: bind(cfg, SMTP_BIND_ADDRESS6)?,
            family,
            connect_timeout: t(SMTP_CONNECT_TIMEOUT)?,
            helo_timeout: t(SMTP_HELO_TIMEOUT)?,
            starttls_timeout: t(SMTP_STARTTLS_TIMEOUT)?,
            mail_timeout: t(SMTP_MAIL_TIMEOUT)?,
            rcpt_timeout: t(SMTP_RCPT_TIMEOUT)?,
            data_init_timeout: t(SMTP_DATA_INIT_TIMEOUT)?,
            data_xfer_timeout: t(SMTP_DATA_XFER_TIMEOUT)?,
            data_done_timeout: t(SMTP_DATA_DONE_TIMEOUT)?,
            rset_timeout: t(SMTP_RSET_TIMEOUT)?,
            quit_timeout: t(SMTP_QUIT_TIMEOUT)?,
            mx_address_limit: count(cfg, SMTP_MX_ADDRESS_LIMIT)?,
            mx_session_limit: count(cfg, SMTP_MX_SESSION_LIMIT)?,
            skip_5xx_greeting: cfg.get_bool(SMTP_SKIP_5XX_GREETING)?,
            never_send_ehlo: cfg.get_bool(SMTP_NEVER_SEND_EHLO)?,
            cache_on_demand: cfg.get_bool(SMTP_CONNECTION_CACHE_ON_DEMAND)?,
            cache_time_limit: t(SMTP_CONNECTION_CACHE_TIME_LIMIT)?,
            log_tls_feature_status: cfg.get_bool(SMTP_LOG_TLS_FEATURE_STATUS)?,
            minimal_backoff_time: t(MINIMAL_BACKOFF_TIME)?,
            resolver: resolver_settings(&cfg.get(DNS_NAMESERVERS))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(parse_port("smtp"), Some(25));
        assert_eq!(parse_port("2525"), Some(2525));
        assert_eq!(parse_port("0"), None);
        assert_eq!(parse_port("nope"), None);
    }

    #[test]
    fn nameservers() {
        let s = resolver_settings("[127.0.0.1]:5353").unwrap();
        assert_eq!(s.nameservers, vec!["127.0.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(s.port, 5353);
        let s = resolver_settings("192.0.2.1, 192.0.2.2").unwrap();
        assert_eq!(s.nameservers.len(), 2);
        assert_eq!(s.port, 53);
        assert!(resolver_settings("[127.0.0.1]:5353 [127.0.0.2]:5354").is_err());
        assert!(resolver_settings("not-an-address").is_err());
    }
}
