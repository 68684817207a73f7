//! One final delivery as data: which destination (Maildir, mailbox, `/file`,
//! `|command`), for which user, with which envelope; and its execution with the
//! primitives of this module.
//!
//! Mirrors the bottom half of Postfix local(8): local/mailbox.c
//! (deliver_mailbox_file), local/maildir.c, local/file.c and local/command.c as
//! called once privileges are set (set_eugid). The request is plain data so that
//! the privileged helper (`helper.rs`) can carry it over its socket and run
//! [`execute`] in a child that has become the recipient; without the helper it
//! runs in-process as the current user. Reads the parameters held by
//! [`LocalSettings`] for the four destination kinds.

use std::path::PathBuf;

use crate::mail::dsn::{Dsn, StatusCode};

use super::command::{self, CommandContext, CommandUser};
use super::file::{self, FileDelivered};
use super::maildir;
use super::mbox::{self, Owner};
use super::privs;
use super::settings::LocalSettings;
use super::{Envelope, Origin};

/// The account a delivery is made as: the recipient, an alias or include file
/// owner, or `default_privs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: Option<PathBuf>,
    pub shell: Option<String>,
}

impl Identity {
    /// The account named `name` from the password file (getpwnam_r).
    pub fn lookup(name: &str) -> Result<Option<Identity>, nix::Error> {
        Ok(nix::unistd::User::from_name(name)?.map(|u| Identity {
            name: u.name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            home: Some(u.dir),
            shell: Some(u.shell.to_string_lossy().into_owned()),
        }))
    }

    /// The account with uid `uid`, or a nameless identity when none exists.
    pub fn by_uid(uid: u32) -> Identity {
        match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
            Ok(Some(u)) => Identity {
                name: u.name,
                uid,
                gid: u.gid.as_raw(),
                home: Some(u.dir),
                shell: Some(u.shell.to_string_lossy().into_owned()),
            },
            _ => Identity {
                name: uid.to_string(),
                uid,
                gid: uid,
                home: None,
                shell: None,
            },
        }
    }
}

/// Where the message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// A Maildir (path ends in `/` or not).
    Maildir(PathBuf),
    /// A user's mailbox file; the identity's name appears in error texts.
    Mbox(PathBuf),
    /// A `/file` destination from an alias, `.forward` or `:include:`.
    File { path: PathBuf, origin: Origin },
    /// `|command` (with its origin) or `mailbox_command` (origin `None`).
    Command {
        command: String,
        origin: Option<Origin>,
        context: Box<CommandContext>,
    },
}

/// One delivery to perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub operation: Operation,
    pub identity: Identity,
    pub envelope: Envelope,
}

/// Why a delivery failed: the RFC 3463 code decides defer (4.x.x) or bounce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub dsn: String,
    pub reason: String,
}

impl Failure {
    pub fn new(dsn: &str, reason: impl Into<String>) -> Failure {
        Failure {
            dsn: dsn.to_string(),
            reason: reason.into(),
        }
    }

    /// The status as a typed Dsn; an unparsable code (never produced here)
    /// defers rather than losing mail.
    pub fn to_dsn(&self) -> Dsn {
        let status = StatusCode::parse(&self.dsn).unwrap_or(StatusCode::OTHER_TEMP);
        Dsn::new(status, self.reason.clone())
    }
}

/// Performs `request` and returns Postfix's status text (`delivered to maildir`,
/// ...). As root, file deliveries take the identity's file-system rights
/// (privs.rs) and commands run as the identity (command.rs); otherwise all run
/// as the current user.
pub fn execute(
    request: &Request,
    content: &[u8],
    settings: &LocalSettings,
) -> Result<String, Failure> {
    let id = &request.identity;
    let owner = Some(Owner {
        uid: id.uid,
        gid: id.gid,
    });
    let env = &request.envelope;
    let as_user = |f: &dyn Fn() -> Result<String, Failure>| {
        privs::as_user(id, f).unwrap_or_else(|e| Err(Failure::new("4.3.0", e.to_string())))
    };
    match &request.operation {
        Operation::Maildir(path) => as_user(&|| {
            maildir::deliver_maildir(path, env, content, &settings.maildir)
                .map(|_| maildir::DELIVERED.to_string())
                .map_err(|e| Failure::new(e.dsn(), e.to_string()))
        }),
        Operation::Mbox(path) => {
            let mbox = || {
                mbox::deliver_mbox(path, &id.name, env, content, &settings.mbox, owner)
                    .map(|_| mbox::DELIVERED.to_string())
                    .map_err(|e| Failure::new(e.dsn(), e.to_string()))
            };
            // mailbox.c: the spool directory (root:mail, not writable by users)
            // is opened, locked and created with root rights and the new file
            // given to the user; a mailbox in the home directory is the user's.
            if path.starts_with(&settings.mbox.mail_spool_directory) {
                mbox()
            } else {
                as_user(&mbox)
            }
        }
        Operation::File { path, origin } => as_user(&|| {
            file::deliver_file(path, *origin, env, content, &settings.file, owner)
                .map(|done| match done {
                    FileDelivered::Mbox(a) => file::delivered_text(&a.path),
                    FileDelivered::Maildir(_) => file::delivered_text(path),
                })
                .map_err(|e| Failure::new(e.dsn(), e.to_string()))
        }),
        Operation::Command {
            command,
            origin,
            context,
        } => {
            let user = CommandUser {
                name: id.name.clone(),
                uid: id.uid,
                gid: id.gid,
                home: id.home.clone(),
                shell: id.shell.clone(),
            };
            command::deliver_command(
                command,
                *origin,
                env,
                content,
                &user,
                context,
                &settings.command,
            )
            .map(|()| command::delivered_text(command))
            .map_err(|e| Failure::new(e.dsn(), e.to_string()))
        }
    }
}
