//! THE parameter table: every main.cf parameter Postern knows, with its type,
//! implementation status, Postfix 3.7 default and documentation.
//!
//! Mirrors Postfix's mail_params.h/postconf tables (`postconf -d`, postconf(5)).
//! Parsed once from `params.tsv` (`name<TAB>type<TAB>status<TAB>default<TAB>doc`).
//! Reads no main.cf parameters itself; computed defaults (`@myhostname` and the
//! like) are resolved by `config::defaults`.

use std::sync::OnceLock;

/// The value type of a parameter, which selects its typed accessor and default unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    Bool,
    Int,
    Long,
    Time,
    Str,
}

/// Whether Postern acts on a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Implemented.
    Yes,
    /// Will be implemented; setting it has no effect yet.
    Later,
    /// Has no effect in Postern (a Postfix feature Postern does not have).
    No,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub kind: ParamType,
    pub status: Status,
    /// Exactly as Postfix's `postconf -d` prints it, or a `@token` for a computed default.
    pub default: &'static str,
    pub doc: &'static str,
}

/// Why a table row did not parse (only possible while the table is being edited).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("params.tsv, line {line}: expected 5 tab-separated fields, found {found}")]
    Fields { line: usize, found: usize },
    #[error("params.tsv, line {line}: parameter {name}: unknown type \"{kind}\"")]
    Type {
        line: usize,
        name: String,
        kind: String,
    },
    #[error("params.tsv, line {line}: parameter {name}: unknown status \"{status}\"")]
    Status {
        line: usize,
        name: String,
        status: String,
    },
}

const TABLE: &str = include_str!("params.tsv");

fn parse_type(s: &str) -> Option<ParamType> {
    Some(match s {
        "bool" => ParamType::Bool,
        "int" => ParamType::Int,
        "long" => ParamType::Long,
        "time" => ParamType::Time,
        "str" => ParamType::Str,
        _ => return None,
    })
}

fn parse_status(s: &str) -> Option<Status> {
    Some(match s {
        "yes" => Status::Yes,
        "later" => Status::Later,
        "no" => Status::No,
        _ => return None,
    })
}

/// Parses the table text; every row must be well formed.
pub fn parse_table(text: &'static str) -> Result<Vec<Param>, TableError> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&'static str> = line.splitn(5, '\t').collect();
        if fields.len() != 5 {
            return Err(TableError::Fields {
                line: i + 1,
                found: fields.len(),
            });
        }
        let kind = parse_type(fields[1]).ok_or_else(|| TableError::Type {
            line: i + 1,
            name: fields[0].into(),
            kind: fields[1].into(),
        })?;
        let status = parse_status(fields[2]).ok_or_else(|| TableError::Status {
            line: i + 1,
            name: fields[0].into(),
            status: fields[2].into(),
        })?;
        rows.push(Param {
            name: fields[0],
            kind,
            status,
            default: fields[3],
            doc: fields[4],
        });
    }
    rows.sort_by(|a, b| a.name.cmp(b.name));
    rows.dedup_by(|a, b| a.name == b.name);
    Ok(rows)
}

/// Every parameter, in name order. A malformed table row is dropped here (and
/// fails the unit test below), so a half-edited table cannot stop the mail system.
pub fn all() -> &'static [Param] {
    static PARAMS: OnceLock<Vec<Param>> = OnceLock::new();
    PARAMS.get_or_init(|| {
        parse_table(TABLE).unwrap_or_else(|e| {
            ::log::error!("parameter table: {e}");
            TABLE.lines().filter_map(parse_table_line).collect()
        })
    })
}

fn parse_table_line(line: &'static str) -> Option<Param> {
    let f: Vec<&'static str> = line.splitn(5, '\t').collect();
    if f.len() != 5 || line.starts_with('#') {
        return None;
    }
    Some(Param {
        name: f[0],
        kind: parse_type(f[1])?,
        status: parse_status(f[2])?,
        default: f[3],
        doc: f[4],
    })
}

/// The row for `name`, if Postern knows the parameter.
pub fn lookup(name: &str) -> Option<&'static Param> {
    let all = all();
    all.binary_search_by(|p| p.name.cmp(name))
        .ok()
        .map(|i| &all[i])
}

/// Parameters Postfix never expands when it reads main.cf: their `$name`s are
/// filled in at use time from per-message tables (`$rbl_code`, `$home`,
/// `$EXTENSION`). Found by setting every parameter to `X$undefined` and seeing
/// which ones real Postfix 3.7 `postconf -x` leaves alone (its CONFIG_RAW_TABLEs).
pub const RAW: &[&str] = &[
    "command_execution_directory",
    "default_rbl_reply",
    "forward_path",
    "luser_relay",
    "mailbox_command",
    "postscreen_expansion_filter",
    "postscreen_reject_footer",
    "smtpd_expansion_filter",
    "smtpd_reject_footer",
];

/// Parameters main.cf cannot set (Postfix: "read-only parameter assignment").
pub const READ_ONLY: &[&str] = &["process_id", "process_name", "service_name"];

/// Is `name` one of the raw (never expanded) parameters?
pub fn is_raw(name: &str) -> bool {
    RAW.contains(&name)
}

/// The names used by code, so that no parameter name is a bare string elsewhere.
pub mod names {
    pub const COMPATIBILITY_LEVEL: &str = "compatibility_level";
    pub const CONFIG_DIRECTORY: &str = "config_directory";
    pub const MYHOSTNAME: &str = "myhostname";
    pub const MYDOMAIN: &str = "mydomain";
    pub const MYNETWORKS: &str = "mynetworks";
    pub const MYNETWORKS_STYLE: &str = "mynetworks_style";
    pub const INET_PROTOCOLS: &str = "inet_protocols";
    pub const SYSLOG_NAME: &str = "syslog_name";
    pub const MAILLOG_FILE: &str = "maillog_file";
    pub const SMTPD_TLS_SECURITY_LEVEL: &str = "smtpd_tls_security_level";
    pub const SMTPD_ENFORCE_TLS: &str = "smtpd_enforce_tls";
    pub const SMTPD_USE_TLS: &str = "smtpd_use_tls";
    pub const SMTP_TLS_SECURITY_LEVEL: &str = "smtp_tls_security_level";
    pub const SMTP_ENFORCE_TLS: &str = "smtp_enforce_tls";
    pub const SMTP_USE_TLS: &str = "smtp_use_tls";
    pub const SMTP_TLS_ENFORCE_PEERNAME: &str = "smtp_tls_enforce_peername";
    pub const RECIPIENT_DELIMITER: &str = "recipient_delimiter";
    pub const OWNER_REQUEST_SPECIAL: &str = "owner_request_special";
    pub const DOUBLE_BOUNCE_SENDER: &str = "double_bounce_sender";
    pub const PROPAGATE_UNMATCHED_EXTENSIONS: &str = "propagate_unmatched_extensions";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_parses() {
        let rows = parse_table(TABLE).unwrap();
        let data_lines = TABLE
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .count();
        assert_eq!(rows.len(), data_lines, "duplicate names in params.tsv");
        assert!(rows.len() > 900);
    }

    #[test]
    fn lookup_and_order() {
        let p = lookup("maximal_queue_lifetime").unwrap();
        assert_eq!(p.kind, ParamType::Time);
        assert_eq!(p.default, "5d");
        assert!(lookup("no_such_parameter").is_none());
        let all = all();
        assert!(all.windows(2).all(|w| w[0].name < w[1].name));
    }

    #[test]
    fn names_are_in_the_table() {
        for n in [
            names::COMPATIBILITY_LEVEL,
            names::CONFIG_DIRECTORY,
            names::MYHOSTNAME,
            names::MYDOMAIN,
            names::MYNETWORKS,
            names::MYNETWORKS_STYLE,
            names::INET_PROTOCOLS,
            names::SYSLOG_NAME,
            names::MAILLOG_FILE,
            names::SMTPD_TLS_SECURITY_LEVEL,
            names::SMTPD_ENFORCE_TLS,
            names::SMTPD_USE_TLS,
            names::SMTP_TLS_SECURITY_LEVEL,
            names::SMTP_ENFORCE_TLS,
            names::SMTP_USE_TLS,
            names::SMTP_TLS_ENFORCE_PEERNAME,
        ]
        .iter()
        .chain(RAW)
        .chain(READ_ONLY)
        {
            assert!(lookup(n).is_some(), "{n}");
        }
    }
}
