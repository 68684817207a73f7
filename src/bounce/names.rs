//! The main.cf parameters the bounce notices read, named once.
//!
//! Mirrors the `VAR_*` names of Postfix's mail_params.h that bounce(8) uses.
//! Reads nothing itself; each name is checked against `config::params` in the
//! tests. No RFC.

pub const MYHOSTNAME: &str = "myhostname";
pub const MYORIGIN: &str = "myorigin";
pub const BOUNCE_SIZE_LIMIT: &str = "bounce_size_limit";
pub const BOUNCE_TEMPLATE_FILE: &str = "bounce_template_file";
pub const NOTIFY_CLASSES: &str = "notify_classes";
pub const DOUBLE_BOUNCE_NOTICE_RECIPIENT: &str = "2bounce_notice_recipient";
pub const BOUNCE_NOTICE_RECIPIENT: &str = "bounce_notice_recipient";
pub const DELAY_NOTICE_RECIPIENT: &str = "delay_notice_recipient";
pub const DOUBLE_BOUNCE_SENDER: &str = "double_bounce_sender";
pub const DELAY_WARNING_TIME: &str = "delay_warning_time";
pub const MAXIMAL_QUEUE_LIFETIME: &str = "maximal_queue_lifetime";
pub const ENABLE_THREADED_BOUNCES: &str = "enable_threaded_bounces";
pub const SMTPUTF8_ENABLE: &str = "smtputf8_enable";

/// Every name above, for the table check.
pub const ALL: &[&str] = &[
    MYHOSTNAME,
    MYORIGIN,
    BOUNCE_SIZE_LIMIT,
    BOUNCE_TEMPLATE_FILE,
    NOTIFY_CLASSES,
    DOUBLE_BOUNCE_NOTICE_RECIPIENT,
    BOUNCE_NOTICE_RECIPIENT,
    DELAY_NOTICE_RECIPIENT,
    DOUBLE_BOUNCE_SENDER,
    DELAY_WARNING_TIME,
    MAXIMAL_QUEUE_LIFETIME,
    ENABLE_THREADED_BOUNCES,
    SMTPUTF8_ENABLE,
];
