//! Chooses how a user's mailbox is delivered: `mailbox_command`, a `home_mailbox`
//! Maildir or file, a Maildir or mbox under `mail_spool_directory`.
//!
//! Mirrors the precedence of Postfix local/mailbox.c deliver_mailbox() (after
//! aliases and `.forward`, which the caller handles; `mailbox_transport` and
//! `mailbox_command_maps` are the caller's as well because they need tables).
//! Reads `mailbox_command`, `home_mailbox` and `mail_spool_directory`.

use std::path::{Path, PathBuf};

/// Mailbox selection parameters, named after their `main.cf` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxSettings {
    /// `mailbox_command` (default empty): run this instead of writing a mailbox.
    pub mailbox_command: String,
    /// `home_mailbox` (default empty): a path relative to the home directory; a
    /// trailing `/` means Maildir.
    pub home_mailbox: String,
    /// `mail_spool_directory` (default `/var/mail`); a trailing `/` means one
    /// Maildir per user under it.
    pub mail_spool_directory: String,
}

impl Default for MailboxSettings {
    fn default() -> Self {
        MailboxSettings {
            mailbox_command: String::new(),
            home_mailbox: String::new(),
            mail_spool_directory: "/var/mail".to_string(),
        }
    }
}

/// Where a user's mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxTarget {
    /// Pipe into `mailbox_command` ([`super::command::deliver_command`] with no
    /// origin).
    Command(String),
    /// A Maildir ([`super::maildir::deliver_maildir`]).
    Maildir(PathBuf),
    /// A UNIX mailbox file ([`super::mbox::deliver_mbox`]).
    Mbox(PathBuf),
}

/// The target for `user` with home directory `home`, in mailbox.c's order:
/// `mailbox_command`, then `home_mailbox` (Maildir if it ends in `/`, else a file
/// in the home directory), then `mail_spool_directory` (Maildir per user if it
/// ends in `/`, else `spool/user`).
pub fn mailbox_target(settings: &MailboxSettings, user: &str, home: &Path) -> MailboxTarget {
    if !settings.mailbox_command.is_empty() {
        return MailboxTarget::Command(settings.mailbox_command.clone());
    }
    if !settings.home_mailbox.is_empty() {
        let path = home.join(&settings.home_mailbox);
        return if settings.home_mailbox.ends_with('/') {
            MailboxTarget::Maildir(path)
        } else {
            MailboxTarget::Mbox(path)
        };
    }
    let spool = Path::new(&settings.mail_spool_directory);
    if settings.mail_spool_directory.ends_with('/') {
        MailboxTarget::Maildir(spool.join(user).join(""))
    } else {
        MailboxTarget::Mbox(spool.join(user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_follows_mailbox_c() {
        let home = Path::new("/home/bob");
        let mut s = MailboxSettings::default();
        assert_eq!(
            mailbox_target(&s, "bob", home),
            MailboxTarget::Mbox("/var/mail/bob".into())
        );
        s.mail_spool_directory = "/var/spool/maildirs/".into();
        assert_eq!(
            mailbox_target(&s, "bob", home),
            MailboxTarget::Maildir("/var/spool/maildirs/bob/".into())
        );
        s.home_mailbox = "Mailbox".into();
        assert_eq!(
            mailbox_target(&s, "bob", home),
            MailboxTarget::Mbox("/home/bob/Mailbox".into())
        );
        s.home_mailbox = "Maildir/".into();
        assert_eq!(
            mailbox_target(&s, "bob", home),
            MailboxTarget::Maildir("/home/bob/Maildir/".into())
        );
        s.mailbox_command = "/usr/bin/procmail".into();
        assert_eq!(
            mailbox_target(&s, "bob", home),
            MailboxTarget::Command("/usr/bin/procmail".into())
        );
    }
}
