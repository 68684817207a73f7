//! The main.cf parameter names qmgr reads, so that none is a bare string in the
//! code, and the per-transport names built from a master.cf service name.
//!
//! Mirrors the `VAR_*` names of Postfix mail_params.h that qmgr(8) and
//! trivial-rewrite(8) use, and the `transport_*` per-service overrides of
//! qmgr_transport.c (`get_mail_conf_int2(name, "_destination_concurrency_limit")`).

pub const QUEUE_DIRECTORY: &str = "queue_directory";
pub const QUEUE_RUN_DELAY: &str = "queue_run_delay";
pub const MINIMAL_BACKOFF_TIME: &str = "minimal_backoff_time";
pub const MAXIMAL_BACKOFF_TIME: &str = "maximal_backoff_time";
pub const MAXIMAL_QUEUE_LIFETIME: &str = "maximal_queue_lifetime";
pub const BOUNCE_QUEUE_LIFETIME: &str = "bounce_queue_lifetime";
pub const DELAY_WARNING_TIME: &str = "delay_warning_time";
pub const DEFAULT_PROCESS_LIMIT: &str = "default_process_limit";
pub const QMGR_MESSAGE_ACTIVE_LIMIT: &str = "qmgr_message_active_limit";
pub const LOCAL_TRANSPORT: &str = "local_transport";
pub const VIRTUAL_TRANSPORT: &str = "virtual_transport";
pub const RELAY_TRANSPORT: &str = "relay_transport";
pub const DEFAULT_TRANSPORT: &str = "default_transport";
pub const RELAYHOST: &str = "relayhost";
pub const TRANSPORT_MAPS: &str = "transport_maps";
pub const SOFT_BOUNCE: &str = "soft_bounce";
pub const SYSLOG_NAME: &str = "syslog_name";
pub const DOUBLE_BOUNCE_SENDER: &str = "double_bounce_sender";
pub const MYORIGIN: &str = "myorigin";
pub const MYHOSTNAME: &str = "myhostname";
pub const SERVICE_NAME: &str = "service_name";
pub const PROCESS_NAME: &str = "process_name";

/// `<transport>_destination_concurrency_limit` (default
/// `default_destination_concurrency_limit`).
pub fn concurrency_limit(transport: &str) -> String {
    format!("{transport}_destination_concurrency_limit")
}

/// `<transport>_destination_recipient_limit` (default
/// `default_destination_recipient_limit`; `local_destination_recipient_limit` is 1).
pub fn recipient_limit(transport: &str) -> String {
    format!("{transport}_destination_recipient_limit")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::params::lookup;

    #[test]
    fn names_are_in_the_table() {
        for n in [
            QUEUE_DIRECTORY,
            QUEUE_RUN_DELAY,
            MINIMAL_BACKOFF_TIME,
            MAXIMAL_BACKOFF_TIME,
            MAXIMAL_QUEUE_LIFETIME,
            BOUNCE_QUEUE_LIFETIME,
            DELAY_WARNING_TIME,
            DEFAULT_PROCESS_LIMIT,
            QMGR_MESSAGE_ACTIVE_LIMIT,
            LOCAL_TRANSPORT,
            VIRTUAL_TRANSPORT,
            RELAY_TRANSPORT,
            DEFAULT_TRANSPORT,
            RELAYHOST,
            TRANSPORT_MAPS,
            SOFT_BOUNCE,
            SYSLOG_NAME,
            DOUBLE_BOUNCE_SENDER,
            MYORIGIN,
        ] {
            assert!(lookup(n).is_some(), "{n}");
        }
        assert!(lookup(&concurrency_limit("local")).is_some());
        assert!(lookup(&recipient_limit("local")).is_some());
    }
}
