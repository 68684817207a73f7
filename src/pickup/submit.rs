//! One pickup scan: every complete maildrop file becomes a local submission to
//! cleanup, queued once, then the file is removed.
//!
//! Mirrors Postfix pickup.c (`pickup_file`, `copy_segment`, the `uid=N
//! from=<sender>` line) and the `append_at_myorigin` rewriting that
//! trivial-rewrite gives local mail. Reads (through `Job::new`)
//! `queue_directory`, `myhostname`, `myorigin`, `mail_name`,
//! `header_size_limit`, `always_add_missing_headers`, `virtual_alias_maps`,
//! `virtual_alias_recursion_limit`, `virtual_alias_expansion_limit`,
//! `message_size_limit` (a larger message is bounced, too_big.rs).
//! RFC 5322 section 3.6.2 (From:).

use std::path::PathBuf;

use super::maildrop::{self, Dropped};
use super::PickupError;
use crate::cleanup::{self, virtual_alias, Local, Submission};
use crate::config::Config;
use crate::mail::address::{parse_mailbox, parse_path};
use crate::mail::dsn::{Notify, Ret};
use crate::mail::envelope::{MailParams, RcptParams, Recipient};
use crate::maps::{MapList, OpenFlags};
use crate::queue::{QueueError, QueueHandle, Reader};

/// Origins of maildrop files in the queue's `origins` table.
pub const ORIGIN_PREFIX: &str = "maildrop:";

const MYORIGIN: &str = "myorigin";
const MAIL_NAME: &str = "mail_name";
const HEADER_SIZE_LIMIT: &str = "header_size_limit";
const ALWAYS_ADD_MISSING_HEADERS: &str = "always_add_missing_headers";
const VIRTUAL_ALIAS_MAPS: &str = "virtual_alias_maps";
const VIRTUAL_ALIAS_RECURSION_LIMIT: &str = "virtual_alias_recursion_limit";
const VIRTUAL_ALIAS_EXPANSION_LIMIT: &str = "virtual_alias_expansion_limit";
const MESSAGE_SIZE_LIMIT: &str = "message_size_limit";

/// What pickup needs, read once at start.
pub struct Job {
    pub queue_dir: PathBuf,
    pub queue: QueueHandle,
    settings: cleanup::Settings,
    myorigin: String,
    /// virtual_alias_maps spec (opened per scan: a map is not `Send`).
    aliases: String,
    /// `message_size_limit`; 0 is none.
    message_size_limit: u64,
    /// For the bounce of an oversized message.
    cfg: Config,
}

impl Job {
    pub fn new(cfg: &Config, queue: QueueHandle) -> Result<Job, PickupError> {
        let count = |name| -> Result<usize, PickupError> {
            Ok(usize::try_from(cfg.get_int(name)?).unwrap_or(0))
        };
        let settings = cleanup::Settings {
            myhostname: cfg.get(crate::config::params::names::MYHOSTNAME),
            mail_name: cfg.get(MAIL_NAME),
            header_size_limit: count(HEADER_SIZE_LIMIT)?,
            always_add_missing_headers: cfg.get_bool(ALWAYS_ADD_MISSING_HEADERS)?,
            alias_limits: virtual_alias::Limits {
                recursion: count(VIRTUAL_ALIAS_RECURSION_LIMIT)?,
                expansion: count(VIRTUAL_ALIAS_EXPANSION_LIMIT)?,
            },
            alias_extensions: virtual_alias::Extensions {
                split: cfg.address_splitter()?,
                propagate: cfg.propagates_extension("virtual"),
            },
        };
        Ok(Job {
            queue_dir: PathBuf::from(cfg.get(crate::master::QUEUE_DIRECTORY)),
            queue,
            settings,
            myorigin: cfg.get(MYORIGIN),
            aliases: cfg.get(VIRTUAL_ALIAS_MAPS),
            message_size_limit: u64::try_from(cfg.get_long(MESSAGE_SIZE_LIMIT)?).unwrap_or(0),
            cfg: cfg.clone(),
        })
    }

    /// Queues every complete file in the maildrop, oldest first.
    pub fn scan(&self) {
        let names = match maildrop::list(&self.queue_dir) {
            Ok(n) => n,
            Err(e) => {
                ::log::warn!("{e}");
                return;
            }
        };
        if names.is_empty() {
            return;
        }
        let aliases = match self.aliases.trim() {
            "" => None,
            spec => match MapList::open(spec, OpenFlags::default()) {
                Ok(m) => Some(m),
                Err(e) => {
                    // As cleanup with a broken table: leave the mail for later.
                    ::log::warn!("{VIRTUAL_ALIAS_MAPS}: {e}; maildrop files wait");
                    return;
                }
            },
        };
        let seen = Reader::open(&self.queue_dir)
            .and_then(|r| r.origins(ORIGIN_PREFIX))
            .unwrap_or_default();
        for name in names {
            let origin = format!("{ORIGIN_PREFIX}{name}");
            if seen.contains(&origin) {
                // Queued before a crash stopped us removing the file.
                ::log::info!("{name}: already queued; removing the maildrop file");
                self.finish(&name, &origin);
                continue;
            }
            self.one(&name, &origin, aliases.as_ref());
        }
    }

    fn one(&self, name: &str, origin: &str, aliases: Option<&MapList>) {
        let dropped = match maildrop::read(&self.queue_dir, name) {
            Ok(d) => d,
            Err(e @ maildrop::MaildropError::Format { .. }) => {
                // Postfix pickup: "Ill-formatted files are deleted".
                ::log::warn!("{e}; removing it");
                let _ = maildrop::remove(&self.queue_dir, name);
                return;
            }
            Err(e) => {
                ::log::warn!("{e}");
                return;
            }
        };
        match self.submit(&dropped, origin, aliases) {
            Ok(()) => self.finish(name, origin),
            Err(QueueError::AlreadyQueued { .. }) => self.finish(name, origin),
            Err(e) => ::log::warn!("{name}: {e}; will try again"),
        }
    }

    /// Removes the file, then the origin: in this order, so a crash between
    /// leaves an origin without a file (pruned at start), never a file
    /// without its origin.
    fn finish(&self, name: &str, origin: &str) {
        if let Err(e) = maildrop::remove(&self.queue_dir, name) {
            ::log::warn!("{e}");
            return;
        }
        if let Err(e) = self.queue.forget_origin(origin) {
            ::log::warn!("{origin}: {e}");
        }
    }

    fn submit(
        &self,
        d: &Dropped,
        origin: &str,
        aliases: Option<&MapList>,
    ) -> Result<(), QueueError> {
        let id = self.queue.new_id();
        let env = &d.envelope;
        ::log::info!("{id}: uid={} from=<{}>", d.uid, env.sender);
        let sender_text = self.qualify(&env.sender);
        let sender = match parse_path(&sender_text) {
            Ok(p) => p,
            Err(e) => {
                ::log::warn!(
                    "{id}: bad sender <{}>: {e}; using the null sender",
                    env.sender
                );
                crate::mail::address::Path::Null
            }
        };
        let notify = env.notify.as_deref().and_then(|n| Notify::parse(n).ok());
        let mut recipients = Vec::new();
        for r in &env.recipients {
            match parse_mailbox(&self.qualify(r)) {
                Ok(m) => recipients.push(Recipient::new(
                    m,
                    RcptParams {
                        notify,
                        orcpt: None,
                    },
                )),
                Err(e) => ::log::warn!("{id}: bad recipient <{r}>: {e}; skipped"),
            }
        }
        if recipients.is_empty() {
            ::log::warn!("{id}: no recipients in maildrop file {}; discarded", d.name);
            return Ok(());
        }
        let params = MailParams {
            ret: env.ret.as_deref().and_then(|r| Ret::parse(r).ok()),
            envid: env.envid.clone(),
            ..MailParams::default()
        };
        let content = with_from(&d.content, &sender_text, env.fullname.as_deref());
        // Queued on hold, then bounced: the maildrop file can go at once.
        let too_big = super::too_big::exceeds(content.len(), self.message_size_limit);
        let sub = Submission {
            queue_id: id.clone(),
            sender: &sender,
            params: &params,
            recipients: &recipients,
            client_name: "localhost",
            client_addr: "127.0.0.1",
            client_rfc_addr: "127.0.0.1",
            helo: None,
            protocol: "local",
            tls: None,
            tls_received_header: false,
            ask_ccert: false,
            local_client: true,
            hold: too_big,
            arrival: d.mtime,
            content,
        };
        let local = Local { uid: d.uid, origin };
        match cleanup::cleanup_local(&self.settings, aliases, &self.queue, sub, &local) {
            Ok(_durable) => {
                if too_big {
                    super::too_big::bounce(&self.queue_dir, &self.queue, &self.cfg, &id);
                }
                Ok(())
            }
            Err(cleanup::CleanupError::Queue(e)) => Err(e),
            Err(e @ cleanup::CleanupError::Alias(_)) => {
                // A permanent expansion error: Postfix bounces; the file must not
                // loop forever, so it is logged and dropped.
                ::log::warn!("{e}; maildrop file {} discarded", d.name);
                Ok(())
            }
        }
    }

    /// `append_at_myorigin`: a bare local part becomes `name@$myorigin`.
    fn qualify(&self, addr: &str) -> String {
        if addr.is_empty() || addr.contains('@') || self.myorigin.is_empty() {
            addr.to_string()
        } else {
            format!("{addr}@{}", self.myorigin)
        }
    }
}

/// Adds `From: Full Name <sender>` (Postfix's default `hfrom_format = std`)
/// when the message has no From: header.
fn with_from(content: &[u8], sender: &str, fullname: Option<&str>) -> Vec<u8> {
    let mut at_line_start = true;
    let mut i = 0;
    while i < content.len() {
        if at_line_start {
            let rest = &content[i..];
            if rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
                break;
            }
            if rest.len() >= 5 && rest[..5].eq_ignore_ascii_case(b"from:") {
                return content.to_vec();
            }
        }
        at_line_start = content[i] == b'\n';
        i += 1;
    }
    let shown = if sender.is_empty() {
        "MAILER-DAEMON"
    } else {
        sender
    };
    let line = match fullname {
        Some(name) if !name.is_empty() => format!("From: {} <{shown}>\r\n", quote_phrase(name)),
        _ => format!("From: {shown}\r\n"),
    };
    let mut out = line.into_bytes();
    out.extend_from_slice(content);
    out
}

/// The full name as an RFC 5322 phrase: quoted when it holds specials.
fn quote_phrase(name: &str) -> String {
    let plain = name
        .chars()
        .all(|c| c.is_alphanumeric() || " !#$%&'*+-/=?^_`{|}~".contains(c));
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pickup::maildrop::DropEnvelope;
    use crate::queue::Store;
    use std::ops::ControlFlow;

    fn job(dir: &std::path::Path, store: &Store) -> Job {
        Job {
            queue_dir: dir.to_path_buf(),
            queue: store.handle(),
            settings: cleanup::Settings {
                myhostname: "mx.test".into(),
                mail_name: "Postfix".into(),
                header_size_limit: 102_400,
                always_add_missing_headers: false,
                alias_limits: virtual_alias::Limits {
                    recursion: 1000,
                    expansion: 1000,
                },
                alias_extensions: Default::default(),
            },
            myorigin: "mx.test".into(),
            aliases: String::new(),
            message_size_limit: 0,
            cfg: {
                let text: &[u8] = b"compatibility_level = 3.6\nmyhostname = mx.test\n";
                let main =
                    crate::config::MainCf::parse(std::path::Path::new("/x/main.cf"), text).unwrap();
                Config::from_main(std::path::Path::new("/x"), main).unwrap()
            },
        }
    }

    fn count(dir: &std::path::Path) -> usize {
        let mut n = 0;
        Reader::open(dir)
            .unwrap()
            .for_each_entry(None, None, |_| {
                n += 1;
                ControlFlow::Continue(())
            })
            .unwrap();
        n
    }

    fn drop_one(dir: &std::path::Path) -> String {
        let env = DropEnvelope {
            sender: "root".into(),
            recipients: vec!["u@example.net".into()],
            ..DropEnvelope::default()
        };
        maildrop::write(dir, &env, b"Subject: x\r\n\r\nbody\r\n").unwrap()
    }

    #[test]
    fn a_file_is_queued_and_removed() {
        let q = tempfile::tempdir().unwrap();
        maildrop::ensure_dir(q.path(), None).unwrap();
        let store = Store::open(q.path()).unwrap();
        let job = job(q.path(), &store);
        drop_one(q.path());
        job.scan();
        assert_eq!(count(q.path()), 1);
        assert!(maildrop::list(q.path()).unwrap().is_empty());
        let reader = Reader::open(q.path()).unwrap();
        assert!(reader.origins(ORIGIN_PREFIX).unwrap().is_empty());
        job.scan();
        assert_eq!(count(q.path()), 1);
    }

    /// A crash after the commit and before the file was removed: the file is
    /// found again, even after the first copy has left the queue, and is
    /// removed without a second copy.
    #[test]
    fn crash_between_commit_and_remove_does_not_duplicate() {
        let q = tempfile::tempdir().unwrap();
        maildrop::ensure_dir(q.path(), None).unwrap();
        let store = Store::open(q.path()).unwrap();
        let job = job(q.path(), &store);
        let name = drop_one(q.path());
        let origin = format!("{ORIGIN_PREFIX}{name}");
        let d = maildrop::read(q.path(), &name).unwrap();
        job.submit(&d, &origin, None).unwrap(); // queued; "crash" before finish()
        assert_eq!(count(q.path()), 1);
        // Delivered and removed from the queue meanwhile.
        let mut ids = Vec::new();
        Reader::open(q.path())
            .unwrap()
            .for_each_entry(None, None, |e| {
                ids.push(e.queue_id);
                ControlFlow::Continue(())
            })
            .unwrap();
        store.handle().delete(&ids[0]).unwrap();
        // A second insert under the same origin is refused by the queue itself.
        assert!(matches!(
            job.submit(&d, &origin, None),
            Err(QueueError::AlreadyQueued { .. })
        ));
        // The restarted pickup removes the file and queues nothing.
        let again = self::job(q.path(), &store);
        again.scan();
        assert_eq!(count(q.path()), 0);
        assert!(maildrop::list(q.path()).unwrap().is_empty());
        let reader = Reader::open(q.path()).unwrap();
        assert!(reader.origins(ORIGIN_PREFIX).unwrap().is_empty());
    }

    #[test]
    fn from_is_added_only_when_missing() {
        let out = with_from(
            b"Subject: x\r\n\r\nFrom: body\r\n",
            "root@h",
            Some("Charlie Root"),
        );
        assert!(out.starts_with(b"From: Charlie Root <root@h>\r\nSubject: x\r\n"));
        let has = b"Subject: x\r\nfrom: a@b\r\n\r\nbody\r\n";
        assert_eq!(with_from(has, "root@h", None), has.to_vec());
        let odd = with_from(b"\r\nbody", "u@h", Some("Doe, J."));
        assert!(odd.starts_with(b"From: \"Doe, J.\" <u@h>\r\n"));
    }
}
