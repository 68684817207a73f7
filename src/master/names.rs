//! The main.cf parameter names the master reads, so that none is a bare string
//! in the code; those the shared `config::params::names` has come from there.
//!
//! Mirrors the `VAR_*` names of Postfix mail_params.h that master.c,
//! master_ent.c, master_listen.c and anvil.c use.

pub use crate::config::params::names::{INET_PROTOCOLS, MAILLOG_FILE, MYHOSTNAME, SYSLOG_NAME};

pub const QUEUE_DIRECTORY: &str = "queue_directory";
pub const DATA_DIRECTORY: &str = "data_directory";
pub const PROCESS_ID_DIRECTORY: &str = "process_id_directory";
pub const MAIL_OWNER: &str = "mail_owner";
pub const MAIL_VERSION: &str = "mail_version";
pub const SYSLOG_FACILITY: &str = "syslog_facility";
pub const INET_INTERFACES: &str = "inet_interfaces";
pub const DEFAULT_PROCESS_LIMIT: &str = "default_process_limit";
pub const SMTPD_CLIENT_CONNECTION_COUNT_LIMIT: &str = "smtpd_client_connection_count_limit";
pub const SMTPD_CLIENT_CONNECTION_RATE_LIMIT: &str = "smtpd_client_connection_rate_limit";
pub const SMTPD_CLIENT_EVENT_LIMIT_EXCEPTIONS: &str = "smtpd_client_event_limit_exceptions";
pub const ANVIL_RATE_TIME_UNIT: &str = "anvil_rate_time_unit";
pub const MAX_USE: &str = "max_use";
pub const MAX_IDLE: &str = "max_idle";
pub const SERVICE_NAME: &str = "service_name";
pub const PROCESS_NAME: &str = "process_name";
pub const SMTPD_TLS_KEY_FILE: &str = "smtpd_tls_key_file";
pub const SMTPD_TLS_ECKEY_FILE: &str = "smtpd_tls_eckey_file";
pub const SMTPD_TLS_DKEY_FILE: &str = "smtpd_tls_dkey_file";
pub const SMTP_TLS_KEY_FILE: &str = "smtp_tls_key_file";
pub const SMTP_TLS_ECKEY_FILE: &str = "smtp_tls_eckey_file";

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_in_the_table() {
        use super::*;
        for n in [
            QUEUE_DIRECTORY,
            DATA_DIRECTORY,
            PROCESS_ID_DIRECTORY,
            MAIL_OWNER,
            MAIL_VERSION,
            MYHOSTNAME,
            SYSLOG_NAME,
            SYSLOG_FACILITY,
            MAILLOG_FILE,
            INET_INTERFACES,
            INET_PROTOCOLS,
            DEFAULT_PROCESS_LIMIT,
            SMTPD_CLIENT_CONNECTION_COUNT_LIMIT,
            SMTPD_CLIENT_CONNECTION_RATE_LIMIT,
            SMTPD_CLIENT_EVENT_LIMIT_EXCEPTIONS,
            ANVIL_RATE_TIME_UNIT,
            MAX_USE,
            MAX_IDLE,
            SERVICE_NAME,
            PROCESS_NAME,
            SMTPD_TLS_KEY_FILE,
            SMTPD_TLS_ECKEY_FILE,
            SMTPD_TLS_DKEY_FILE,
            SMTP_TLS_KEY_FILE,
            SMTP_TLS_ECKEY_FILE,
        ] {
            assert!(crate::config::params::lookup(n).is_some(), "{n}");
        }
    }
}
