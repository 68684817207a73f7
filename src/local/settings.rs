//! The local delivery agent's main.cf parameters, read once into typed settings
//! when the agent's context is built (start and reload).
//!
//! Mirrors the parameter tables of Postfix local/local.c main(). Reads
//! `alias_maps`, `recipient_delimiter`, `luser_relay`, `owner_request_special`,
//! `double_bounce_sender`,
//! `expand_owner_alias`, `myorigin`, `mydestination`, `myhostname`,
//! `enable_original_recipient`, `require_home_directory`,
//! `propagate_unmatched_extensions`, `duplicate_filter_limit`, `mailbox_command`,
//! `home_mailbox`, `mail_spool_directory`, `mailbox_size_limit`,
//! `mailbox_delivery_lock`, `deliver_lock_attempts`, `deliver_lock_delay`,
//! `stale_lock_time`, `prepend_delivered_header`, `strict_mailbox_ownership`,
//! `allow_mail_to_commands`, `allow_mail_to_files`, `command_time_limit`,
//! `export_environment`, `command_expansion_filter`, `local_command_shell`,
//! `command_execution_directory`, `default_privs`, `forward_path` and
//! `forward_expansion_filter`.

use std::path::PathBuf;

use crate::config::{Config, ConfigError};
use crate::mail::extension::Splitter;

use super::command::CommandSettings;
use super::copy::DeliveredHeader;
use super::file::FileSettings;
use super::forward::ForwardSettings;
use super::lock::{LockError, LockSettings, LockStyle};
use super::mailbox::MailboxSettings;
use super::maildir::MaildirSettings;
use super::mbox::MboxSettings;
use super::OriginMask;

/// Parameter names, so that none is a bare string elsewhere.
pub mod names {
    pub const ALIAS_MAPS: &str = "alias_maps";
    pub const RECIPIENT_DELIMITER: &str = "recipient_delimiter";
    pub const LUSER_RELAY: &str = "luser_relay";
    pub const OWNER_REQUEST_SPECIAL: &str = "owner_request_special";
    pub const EXPAND_OWNER_ALIAS: &str = "expand_owner_alias";
    pub const MYORIGIN: &str = "myorigin";
    pub const MYDESTINATION: &str = "mydestination";
    pub const MYHOSTNAME: &str = "myhostname";
    pub const ENABLE_ORIGINAL_RECIPIENT: &str = "enable_original_recipient";
    pub const REQUIRE_HOME_DIRECTORY: &str = "require_home_directory";
    pub const PROPAGATE_UNMATCHED_EXTENSIONS: &str = "propagate_unmatched_extensions";
    pub const DUPLICATE_FILTER_LIMIT: &str = "duplicate_filter_limit";
    pub const MAILBOX_COMMAND: &str = "mailbox_command";
    pub const HOME_MAILBOX: &str = "home_mailbox";
    pub const MAIL_SPOOL_DIRECTORY: &str = "mail_spool_directory";
    pub const MAILBOX_SIZE_LIMIT: &str = "mailbox_size_limit";
    pub const MAILBOX_DELIVERY_LOCK: &str = "mailbox_delivery_lock";
    pub const DELIVER_LOCK_ATTEMPTS: &str = "deliver_lock_attempts";
    pub const DELIVER_LOCK_DELAY: &str = "deliver_lock_delay";
    pub const STALE_LOCK_TIME: &str = "stale_lock_time";
    pub const PREPEND_DELIVERED_HEADER: &str = "prepend_delivered_header";
    pub const STRICT_MAILBOX_OWNERSHIP: &str = "strict_mailbox_ownership";
    pub const ALLOW_MAIL_TO_COMMANDS: &str = "allow_mail_to_commands";
    pub const ALLOW_MAIL_TO_FILES: &str = "allow_mail_to_files";
    pub const COMMAND_TIME_LIMIT: &str = "command_time_limit";
    pub const EXPORT_ENVIRONMENT: &str = "export_environment";
    pub const COMMAND_EXPANSION_FILTER: &str = "command_expansion_filter";
    pub const LOCAL_COMMAND_SHELL: &str = "local_command_shell";
    pub const COMMAND_EXECUTION_DIRECTORY: &str = "command_execution_directory";
    pub const DEFAULT_PRIVS: &str = "default_privs";
    pub const FORWARD_PATH: &str = "forward_path";
    pub const FORWARD_EXPANSION_FILTER: &str = "forward_expansion_filter";
    pub const SMTPUTF8_ENABLE: &str = "smtputf8_enable";
}

/// A parameter value the agent cannot use; the context is not built.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("parameter {param}: {source}")]
    Lock {
        param: &'static str,
        source: LockError,
    },
    #[error("parameter {param}: negative value {value}")]
    Negative { param: &'static str, value: i64 },
}

/// Which lookups carry an unmatched address extension over to their result
/// (`propagate_unmatched_extensions`, Postfix EXPAND_TYPE_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Propagate {
    pub alias: bool,
    pub forward: bool,
    pub include: bool,
}

/// Everything the local agent reads from main.cf, typed.
#[derive(Debug, Clone)]
pub struct LocalSettings {
    pub alias_maps: String,
    /// `recipient_delimiter`: each character is a delimiter (Postfix 2.11+).
    pub recipient_delimiter: String,
    /// Where local parts split (`recipient_delimiter`,
    /// `owner_request_special`, `double_bounce_sender`).
    pub split: Splitter,
    pub luser_relay: String,
    pub owner_request_special: bool,
    pub expand_owner_alias: bool,
    pub myorigin: String,
    /// `mydestination` names, lower-cased; table entries are kept as `type:name`.
    pub mydestination: Vec<String>,
    pub myhostname: String,
    pub enable_original_recipient: bool,
    pub require_home_directory: bool,
    pub propagate: Propagate,
    pub duplicate_filter_limit: usize,
    /// `prepend_delivered_header`: `forward` asks the resubmitted copy for a
    /// `Delivered-To:` header (qmgr's resubmission adds it).
    pub delivered_header: DeliveredHeader,
    pub smtputf8_enable: bool,
    pub mailbox: MailboxSettings,
    pub maildir: MaildirSettings,
    pub mbox: MboxSettings,
    pub file: FileSettings,
    pub command: CommandSettings,
    pub forward: ForwardSettings,
}

impl LocalSettings {
    /// Reads the parameters from `cfg`.
    pub fn from_config(cfg: &Config) -> Result<LocalSettings, SettingsError> {
        use names::*;
        let lock = LockSettings {
            mailbox_delivery_lock: LockStyle::parse(&cfg.get(MAILBOX_DELIVERY_LOCK)).map_err(
                |source| SettingsError::Lock {
                    param: MAILBOX_DELIVERY_LOCK,
                    source,
                },
            )?,
            deliver_lock_attempts: non_negative(
                DELIVER_LOCK_ATTEMPTS,
                cfg.get_int(DELIVER_LOCK_ATTEMPTS)?.into(),
            )? as u32,
            deliver_lock_delay: cfg.get_time(DELIVER_LOCK_DELAY)?,
            stale_lock_time: cfg.get_time(STALE_LOCK_TIME)?,
        };
        let delivered = DeliveredHeader::parse(&cfg.get(PREPEND_DELIVERED_HEADER));
        let size_limit = non_negative(MAILBOX_SIZE_LIMIT, cfg.get_long(MAILBOX_SIZE_LIMIT)?)?;
        let mailbox = MailboxSettings {
            mailbox_command: cfg.get(MAILBOX_COMMAND),
            home_mailbox: cfg.get(HOME_MAILBOX),
            mail_spool_directory: cfg.get(MAIL_SPOOL_DIRECTORY),
        };
        let maildir = MaildirSettings {
            home_mailbox: mailbox.home_mailbox.clone(),
            mailbox_size_limit: size_limit,
            prepend_delivered_header: delivered,
        };
        let mbox = MboxSettings {
            mail_spool_directory: PathBuf::from(&mailbox.mail_spool_directory),
            mailbox_size_limit: size_limit,
            prepend_delivered_header: delivered,
            strict_mailbox_ownership: cfg.get_bool(STRICT_MAILBOX_OWNERSHIP)?,
            lock,
        };
        let exec_dir = cfg.get(COMMAND_EXECUTION_DIRECTORY);
        let command = CommandSettings {
            command_time_limit: cfg.get_time(COMMAND_TIME_LIMIT)?,
            export_environment: cfg.get(EXPORT_ENVIRONMENT),
            command_expansion_filter: cfg.get(COMMAND_EXPANSION_FILTER),
            local_command_shell: cfg.get(LOCAL_COMMAND_SHELL),
            allow_mail_to_commands: OriginMask::parse(&cfg.get(ALLOW_MAIL_TO_COMMANDS)),
            prepend_delivered_header: delivered,
            // `$name` expansion of this parameter with recipient attributes is not
            // done yet: a value without `$` is used as is.
            command_execution_directory: (!exec_dir.is_empty()).then(|| PathBuf::from(exec_dir)),
            default_privs: cfg.get(DEFAULT_PRIVS),
        };
        let mut propagate = Propagate::default();
        for word in cfg.get_list(PROPAGATE_UNMATCHED_EXTENSIONS) {
            match word.to_ascii_lowercase().as_str() {
                "alias" => propagate.alias = true,
                "forward" => propagate.forward = true,
                "include" => propagate.include = true,
                _ => {}
            }
        }
        Ok(LocalSettings {
            alias_maps: cfg.get(ALIAS_MAPS),
            recipient_delimiter: cfg.get(RECIPIENT_DELIMITER),
            split: cfg.address_splitter()?,
            luser_relay: cfg.get(LUSER_RELAY),
            owner_request_special: cfg.get_bool(OWNER_REQUEST_SPECIAL)?,
            expand_owner_alias: cfg.get_bool(EXPAND_OWNER_ALIAS)?,
            myorigin: cfg.get(MYORIGIN).to_ascii_lowercase(),
            mydestination: cfg
                .get_list(MYDESTINATION)
                .into_iter()
                .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
                .collect(),
            myhostname: cfg.get(MYHOSTNAME).to_ascii_lowercase(),
            enable_original_recipient: cfg.get_bool(ENABLE_ORIGINAL_RECIPIENT)?,
            require_home_directory: cfg.get_bool(REQUIRE_HOME_DIRECTORY)?,
            propagate,
            duplicate_filter_limit: non_negative(
                DUPLICATE_FILTER_LIMIT,
                cfg.get_int(DUPLICATE_FILTER_LIMIT)?.into(),
            )? as usize,
            delivered_header: delivered,
            smtputf8_enable: cfg.get_bool(SMTPUTF8_ENABLE)?,
            file: FileSettings {
                allow_mail_to_files: OriginMask::parse(&cfg.get(ALLOW_MAIL_TO_FILES)),
                mbox: mbox.clone(),
                maildir: maildir.clone(),
            },
            mailbox,
            maildir,
            mbox,
            command,
            forward: ForwardSettings {
                forward_path: cfg.get(FORWARD_PATH),
                forward_expansion_filter: cfg.get(FORWARD_EXPANSION_FILTER),
            },
        })
    }
}

fn non_negative(param: &'static str, value: i64) -> Result<u64, SettingsError> {
    u64::try_from(value).map_err(|_| SettingsError::Negative { param, value })
}
