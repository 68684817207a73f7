//! The file checks of `postfix check`: private keys readable by others or not
//! readable at all, queue and data directories not owned by `mail_owner`, and
//! indexed tables named in main.cf whose database file is missing or stale.
//!
//! Mirrors postfix-script's `check` (`not owned by`, `database ... is older
//! than source file ...`). Reads `smtpd_tls_key_file`, `smtpd_tls_eckey_file`,
//! `smtpd_tls_dkey_file`, `smtp_tls_key_file`, `smtp_tls_eckey_file`,
//! `queue_directory`, `data_directory`, `mail_owner`, and every main.cf
//! parameter that names a table.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::config::{io_text, Config};
use crate::master;

/// Table types whose lookups go to a file built by postmap, with its suffix.
const INDEXED: &[(&str, &[&str])] = &[
    ("hash", &[".db"]),
    ("btree", &[".db"]),
    ("lmdb", &[".lmdb"]),
    ("cdb", &[".cdb"]),
    ("dbm", &[".dir", ".pag"]),
    ("sdbm", &[".dir", ".pag"]),
];

/// `(is_error, text)` findings, as `findings` in the parent module.
pub fn findings(cfg: &Config) -> Vec<(bool, String)> {
    let mut out = keys(cfg);
    if master::is_root() {
        out.extend(ownership(cfg));
    }
    out.extend(tables(cfg));
    out
}

/// Private keys: the daemon reads them as root, but nobody else should.
fn keys(cfg: &Config) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for name in [
        master::SMTPD_TLS_KEY_FILE,
        master::SMTPD_TLS_ECKEY_FILE,
        master::SMTPD_TLS_DKEY_FILE,
        master::SMTP_TLS_KEY_FILE,
        master::SMTP_TLS_ECKEY_FILE,
    ] {
        let path = cfg.get(name);
        if path.is_empty() || seen.contains(&path) {
            continue;
        }
        seen.push(path.clone());
        if let Err(e) = std::fs::File::open(&path) {
            out.push((
                false,
                format!(
                    "{name}: cannot read private key file {path}: {}",
                    io_text(&e)
                ),
            ));
            continue;
        }
        if let Ok(meta) = std::fs::metadata(&path) {
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o044 != 0 {
                out.push((
                    false,
                    format!(
                        "{name}: private key file {path} is readable by group or other users (mode {mode:04o}); make it 0600 or 0400"
                    ),
                ));
            }
        }
    }
    out
}

/// The queue and data directories belong to mail_owner (post-install).
fn ownership(cfg: &Config) -> Vec<(bool, String)> {
    let owner = match master::mail_owner(cfg) {
        Ok(o) => o,
        Err(e) => return vec![(true, e.to_string())],
    };
    let mut paths = Vec::new();
    for name in [master::QUEUE_DIRECTORY, master::DATA_DIRECTORY] {
        let dir = cfg.get(name);
        let dir = Path::new(&dir);
        if !dir.exists() {
            continue;
        }
        paths.push(dir.to_path_buf());
        if name == master::QUEUE_DIRECTORY {
            if let Ok(list) = std::fs::read_dir(dir) {
                for f in list.flatten() {
                    if f.file_name().to_string_lossy().starts_with("queue.db") {
                        paths.push(f.path());
                    }
                }
            }
        }
    }
    paths
        .into_iter()
        .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.uid() != owner.uid.as_raw()))
        .map(|p| {
            (
                false,
                format!("not owned by {}: {}", owner.name, p.display()),
            )
        })
        .collect()
}

/// `hash:/etc/postfix/x` wants `/etc/postfix/x.db`, no older than its source.
fn tables(cfg: &Config) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let main = cfg.main_cf().path.display().to_string();
    for e in cfg.main_cf().effective() {
        for word in cfg.get_list(&e.name) {
            let word = word.strip_prefix("proxy:").unwrap_or(&word);
            let Some((kind, source)) = word.split_once(':') else {
                continue;
            };
            let Some((_, suffixes)) = INDEXED.iter().find(|(k, _)| *k == kind) else {
                continue;
            };
            if !source.starts_with('/') {
                continue;
            }
            for suffix in *suffixes {
                let db = format!("{source}{suffix}");
                let db_time = std::fs::metadata(&db).and_then(|m| m.modified());
                let src_time = std::fs::metadata(source).and_then(|m| m.modified());
                match (db_time, src_time) {
                    (Err(_), _) => out.push((
                        false,
                        format!(
                            "{main}, line {}: {}: database {db} of table {word} does not exist; run \"postmap {word}\"",
                            e.line, e.name
                        ),
                    )),
                    (Ok(d), Ok(s)) if d < s => out.push((
                        false,
                        format!("database {db} is older than source file {source}"),
                    )),
                    _ => {}
                }
            }
        }
    }
    out
}
