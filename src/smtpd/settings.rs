//! smtpd's parameters, read once from `Config` into typed values when a service
//! is built (start and reload), so a session never parses main.cf text.
//!
//! Mirrors the parameter tables of Postfix's smtpd.c `main()` (`time_table`,
//! `int_table`, `bool_table`, `str_table`) and its TLS start-up checks
//! ("no certificate" fatal, "disabling TLS support" warning). Reads the
//! parameters named in `names` below and every `smtpd_tls_*`/`tls_*` parameter
//! of `tls::ServerSettings`. No RFC: these are the knobs of RFC 5321 section
//! 4.5.3 (limits) and RFC 3207 (STARTTLS).

use super::line::BareNewline;
use super::SmtpdError;
use crate::config::{compat, Config};
use crate::tls::{ServerSettings, TlsGlobals, TlsLevel};
use std::time::Duration;

/// The parameter names this file reads, in one place.
pub mod names {
    pub const SMTPD_BANNER: &str = "smtpd_banner";
    pub const MYHOSTNAME: &str = "myhostname";
    pub const MAIL_NAME: &str = "mail_name";
    pub const SYSLOG_NAME: &str = "syslog_name";
    pub const SMTPD_TIMEOUT: &str = "smtpd_timeout";
    pub const SMTPD_STARTTLS_TIMEOUT: &str = "smtpd_starttls_timeout";
    pub const SMTPD_PER_REQUEST_DEADLINE: &str = "smtpd_per_request_deadline";
    pub const SMTPD_MIN_DATA_RATE: &str = "smtpd_min_data_rate";
    pub const SMTPD_HARD_ERROR_LIMIT: &str = "smtpd_hard_error_limit";
    pub const SMTPD_SOFT_ERROR_LIMIT: &str = "smtpd_soft_error_limit";
    pub const SMTPD_ERROR_SLEEP_TIME: &str = "smtpd_error_sleep_time";
    pub const SMTPD_JUNK_COMMAND_LIMIT: &str = "smtpd_junk_command_limit";
    pub const SMTPD_RECIPIENT_LIMIT: &str = "smtpd_recipient_limit";
    pub const SMTPD_HELO_REQUIRED: &str = "smtpd_helo_required";
    pub const DISABLE_VRFY_COMMAND: &str = "disable_vrfy_command";
    pub const LINE_LENGTH_LIMIT: &str = "line_length_limit";
    pub const MESSAGE_SIZE_LIMIT: &str = "message_size_limit";
    pub const HOPCOUNT_LIMIT: &str = "hopcount_limit";
    pub const HEADER_SIZE_LIMIT: &str = "header_size_limit";
    pub const SMTPD_FORBID_BARE_NEWLINE: &str = "smtpd_forbid_bare_newline";
    pub const SMTPD_FORBID_BARE_NEWLINE_REJECT_CODE: &str = "smtpd_forbid_bare_newline_reject_code";
    pub const SMTPUTF8_ENABLE: &str = "smtputf8_enable";
    pub const SMTPD_DISCARD_EHLO_KEYWORDS: &str = "smtpd_discard_ehlo_keywords";
    pub const SMTPD_CLIENT_PORT_LOGGING: &str = "smtpd_client_port_logging";
    pub const SMTPD_PEERNAME_LOOKUP: &str = "smtpd_peername_lookup";
    pub const SMTPD_TLS_WRAPPERMODE: &str = "smtpd_tls_wrappermode";
    pub const SMTPD_SASL_AUTH_ENABLE: &str = "smtpd_sasl_auth_enable";
    pub const STRICT_RFC821_ENVELOPES: &str = "strict_rfc821_envelopes";
    pub const VIRTUAL_ALIAS_MAPS: &str = "virtual_alias_maps";
    pub const VIRTUAL_ALIAS_RECURSION_LIMIT: &str = "virtual_alias_recursion_limit";
    pub const VIRTUAL_ALIAS_EXPANSION_LIMIT: &str = "virtual_alias_expansion_limit";
    pub const LOCAL_HEADER_REWRITE_CLIENTS: &str = "local_header_rewrite_clients";
    pub const ALWAYS_ADD_MISSING_HEADERS: &str = "always_add_missing_headers";
}

/// Everything a session needs from main.cf, typed.
#[derive(Debug, Clone)]
pub struct Settings {
    pub banner: String,
    pub myhostname: String,
    pub mail_name: String,
    pub syslog_name: String,
    pub timeout: Duration,
    pub starttls_timeout: Duration,
    /// Postern default yes (see `read`): the timeout covers a whole request.
    pub per_request_deadline: bool,
    /// Bytes per second a DATA/BDAT sender must keep up; 0 = none.
    pub min_data_rate: u64,
    pub hard_error_limit: u32,
    pub soft_error_limit: u32,
    pub error_sleep_time: Duration,
    pub junk_command_limit: u32,
    pub recipient_limit: usize,
    pub helo_required: bool,
    pub disable_vrfy: bool,
    pub line_length_limit: usize,
    pub message_size_limit: u64,
    pub hopcount_limit: u32,
    pub header_size_limit: usize,
    pub bare_newline: BareNewline,
    pub bare_newline_code: u16,
    pub smtputf8: bool,
    /// Lower-case keywords of `smtpd_discard_ehlo_keywords`.
    pub discard_ehlo: Vec<String>,
    pub client_port_logging: bool,
    pub peername_lookup: bool,
    pub tls_level: TlsLevel,
    pub wrappermode: bool,
    pub tls_loglevel: u8,
    pub tls_received_header: bool,
    pub sasl_auth_enable: bool,
    pub strict_rfc821: bool,
    pub virtual_alias_maps: String,
    pub virtual_alias_recursion_limit: usize,
    pub virtual_alias_expansion_limit: usize,
    /// Extensions in virtual alias look-ups (`recipient_delimiter` and
    /// `propagate_unmatched_extensions`).
    pub virtual_alias_extensions: crate::cleanup::virtual_alias::Extensions,
    /// `local_header_rewrite_clients` words (permit_mynetworks, permit_inet_interfaces, ...).
    pub local_header_rewrite_clients: Vec<String>,
    pub always_add_missing_headers: bool,
    pub tls: ServerSettings,
}

fn bad(param: &'static str, value: impl Into<String>) -> SmtpdError {
    SmtpdError::BadValue {
        param,
        value: value.into(),
    }
}

fn uint(cfg: &Config, name: &'static str) -> Result<u32, SmtpdError> {
    let v = cfg.get_int(name).map_err(SmtpdError::Config)?;
    u32::try_from(v).map_err(|_| bad(name, v.to_string()))
}

fn time(cfg: &Config, name: &'static str) -> Result<Duration, SmtpdError> {
    cfg.get_time(name).map_err(SmtpdError::Config)
}

fn flag(cfg: &Config, name: &'static str) -> Result<bool, SmtpdError> {
    cfg.get_bool(name).map_err(SmtpdError::Config)
}

impl Settings {
    /// Reads every parameter; a bad value is an error naming it.
    pub fn read(cfg: &Config) -> Result<Settings, SmtpdError> {
        use names::*;
        let bare = cfg.get(SMTPD_FORBID_BARE_NEWLINE);
        let bare_newline =
            BareNewline::from_param(&bare).ok_or_else(|| bad(SMTPD_FORBID_BARE_NEWLINE, bare))?;
        let code = uint(cfg, SMTPD_FORBID_BARE_NEWLINE_REJECT_CODE)?;
        let bare_newline_code = u16::try_from(code)
            .ok()
            .filter(|c| (400..600).contains(c))
            .ok_or_else(|| bad(SMTPD_FORBID_BARE_NEWLINE_REJECT_CODE, code.to_string()))?;
        let level_name = compat::smtpd_tls_security_level(cfg).map_err(SmtpdError::Config)?;
        let tls_level = TlsLevel::lookup(&level_name)
            .map_err(|_| bad("smtpd_tls_security_level", level_name.clone()))?;
        if !matches!(
            tls_level,
            TlsLevel::None | TlsLevel::May | TlsLevel::Encrypt
        ) {
            return Err(bad("smtpd_tls_security_level", level_name));
        }
        let size = cfg
            .get_long(MESSAGE_SIZE_LIMIT)
            .map_err(SmtpdError::Config)?;
        let loglevel = uint(cfg, "smtpd_tls_loglevel")?;
        Ok(Settings {
            banner: cfg.get(SMTPD_BANNER),
            myhostname: cfg.get(MYHOSTNAME),
            mail_name: cfg.get(MAIL_NAME),
            syslog_name: cfg.get(SYSLOG_NAME),
            timeout: time(cfg, SMTPD_TIMEOUT)?,
            starttls_timeout: time(cfg, SMTPD_STARTTLS_TIMEOUT)?,
            per_request_deadline: per_request_deadline(cfg)?,
            min_data_rate: u64::from(uint(cfg, SMTPD_MIN_DATA_RATE)?),
            hard_error_limit: uint(cfg, SMTPD_HARD_ERROR_LIMIT)?,
            soft_error_limit: uint(cfg, SMTPD_SOFT_ERROR_LIMIT)?,
            error_sleep_time: time(cfg, SMTPD_ERROR_SLEEP_TIME)?,
            junk_command_limit: uint(cfg, SMTPD_JUNK_COMMAND_LIMIT)?,
            recipient_limit: uint(cfg, SMTPD_RECIPIENT_LIMIT)? as usize,
            helo_required: flag(cfg, SMTPD_HELO_REQUIRED)?,
            disable_vrfy: flag(cfg, DISABLE_VRFY_COMMAND)?,
            line_length_limit: (uint(cfg, LINE_LENGTH_LIMIT)? as usize).max(512),
            message_size_limit: u64::try_from(size)
                .map_err(|_| bad(MESSAGE_SIZE_LIMIT, size.to_string()))?,
            hopcount_limit: uint(cfg, HOPCOUNT_LIMIT)?,
            header_size_limit: uint(cfg, HEADER_SIZE_LIMIT)? as usize,
            bare_newline,
            bare_newline_code,
            smtputf8: flag(cfg, SMTPUTF8_ENABLE)?,
            discard_ehlo: cfg
                .get_list(SMTPD_DISCARD_EHLO_KEYWORDS)
                .into_iter()
                .map(|k| k.to_ascii_lowercase())
                .collect(),
            client_port_logging: flag(cfg, SMTPD_CLIENT_PORT_LOGGING)?,
            peername_lookup: flag(cfg, SMTPD_PEERNAME_LOOKUP)?,
            tls_level,
            wrappermode: flag(cfg, SMTPD_TLS_WRAPPERMODE)?,
            tls_loglevel: u8::try_from(loglevel).unwrap_or(u8::MAX),
            tls_received_header: flag(cfg, "smtpd_tls_received_header")?,
            sasl_auth_enable: flag(cfg, SMTPD_SASL_AUTH_ENABLE)?,
            strict_rfc821: flag(cfg, STRICT_RFC821_ENVELOPES)?,
            virtual_alias_maps: cfg.get(VIRTUAL_ALIAS_MAPS),
            virtual_alias_recursion_limit: uint(cfg, VIRTUAL_ALIAS_RECURSION_LIMIT)? as usize,
            virtual_alias_expansion_limit: uint(cfg, VIRTUAL_ALIAS_EXPANSION_LIMIT)? as usize,
            virtual_alias_extensions: crate::cleanup::virtual_alias::Extensions {
                split: cfg.address_splitter()?,
                propagate: cfg.propagates_extension("virtual"),
            },
            local_header_rewrite_clients: cfg.get_list(LOCAL_HEADER_REWRITE_CLIENTS),
            always_add_missing_headers: flag(cfg, ALWAYS_ADD_MISSING_HEADERS)?,
            tls: server_settings(cfg, tls_level)?,
        })
    }

    /// Whether STARTTLS/wrapper mode can be used at all.
    pub fn tls_wanted(&self) -> bool {
        self.wrappermode || self.tls_level.tls_enabled()
    }

    /// Whether a server certificate is configured.
    pub fn has_certificate(&self) -> bool {
        !self.tls.smtpd_tls_cert_file.is_empty()
            || !self.tls.smtpd_tls_eccert_file.is_empty()
            || !self.tls.smtpd_tls_chain_files.is_empty()
    }

    pub fn keyword_discarded(&self, keyword: &str) -> bool {
        let k = keyword.to_ascii_lowercase();
        self.discard_ehlo.contains(&k)
    }
}

/// Postern's default differs from Postfix 3.7: unless the administrator set
/// `smtpd_per_request_deadline` (or the older `smtpd_per_record_deadline`), it is
/// on, so that `smtpd_timeout` bounds a whole command or DATA transfer and a
/// client sending one byte a second cannot hold a thread (issue 3 item 6).
fn per_request_deadline(cfg: &Config) -> Result<bool, SmtpdError> {
    use names::SMTPD_PER_REQUEST_DEADLINE;
    let explicit = cfg.raw(SMTPD_PER_REQUEST_DEADLINE).is_some()
        || cfg.raw("smtpd_per_record_deadline").is_some();
    if explicit {
        flag(cfg, SMTPD_PER_REQUEST_DEADLINE)
    } else {
        Ok(true)
    }
}

/// The `smtpd_tls_*` and `tls_*` parameters for `tls::ServerContext`.
fn server_settings(cfg: &Config, level: TlsLevel) -> Result<ServerSettings, SmtpdError> {
    let s = |n: &str| cfg.get(n);
    let depth = uint(cfg, "smtpd_tls_ccert_verifydepth")?;
    Ok(ServerSettings {
        smtpd_tls_security_level: level,
        smtpd_tls_cert_file: s("smtpd_tls_cert_file"),
        smtpd_tls_key_file: s("smtpd_tls_key_file"),
        smtpd_tls_chain_files: cfg.get_list("smtpd_tls_chain_files"),
        smtpd_tls_eccert_file: s("smtpd_tls_eccert_file"),
        smtpd_tls_eckey_file: s("smtpd_tls_eckey_file"),
        smtpd_tls_CAfile: s("smtpd_tls_CAfile"),
        smtpd_tls_CApath: s("smtpd_tls_CApath"),
        smtpd_tls_ask_ccert: flag(cfg, "smtpd_tls_ask_ccert")?,
        smtpd_tls_req_ccert: flag(cfg, "smtpd_tls_req_ccert")?,
        smtpd_tls_ccert_verifydepth: depth,
        smtpd_tls_protocols: s("smtpd_tls_protocols"),
        smtpd_tls_mandatory_protocols: s("smtpd_tls_mandatory_protocols"),
        smtpd_tls_ciphers: s("smtpd_tls_ciphers"),
        smtpd_tls_mandatory_ciphers: s("smtpd_tls_mandatory_ciphers"),
        smtpd_tls_exclude_ciphers: s("smtpd_tls_exclude_ciphers"),
        smtpd_tls_mandatory_exclude_ciphers: s("smtpd_tls_mandatory_exclude_ciphers"),
        smtpd_tls_session_cache_timeout: time(cfg, "smtpd_tls_session_cache_timeout")?,
        smtpd_tls_session_cache_database: s("smtpd_tls_session_cache_database"),
        smtpd_tls_fingerprint_digest: s("smtpd_tls_fingerprint_digest"),
        smtpd_tls_loglevel: u8::try_from(uint(cfg, "smtpd_tls_loglevel")?).unwrap_or(u8::MAX),
        smtpd_tls_received_header: flag(cfg, "smtpd_tls_received_header")?,
        tls: TlsGlobals::read(s, |n| flag(cfg, n))?,
    })
}
