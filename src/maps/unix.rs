//! `unix:passwd.byname` and `unix:group.byname`, and `nis:` without a NIS domain.
//!
//! Mirrors Postfix `util/dict_unix.c`: a `passwd.byname` lookup returns the
//! passwd(5) line `name:passwd:uid:gid:gecos:dir:shell`, a `group.byname` lookup
//! the group(5) line `name:passwd:gid:member,member`; keys are folded (Postfix
//! finds `ROOT`). Postfix 3.7's default `local_recipient_maps` uses
//! `proxy:unix:passwd.byname`. Also mirrors `util/dict_nis.c` on a host with no
//! NIS domain, the usual case behind Debian's default `alias_maps` entry
//! `nis:mail.aliases`: Postfix warns once and finds nothing. With a NIS domain
//! set, `nis:` is unsupported (Postern has no NIS client).
//!
//! main.cf parameters read: none.

use nix::unistd::{Group, User};

use super::{Map, MapError, OpenFlags};

#[derive(Debug, Clone, Copy)]
enum Kind {
    Passwd,
    Group,
}

/// A `unix:` table.
pub struct UnixMap {
    spec: String,
    kind: Kind,
    flags: OpenFlags,
}

impl UnixMap {
    /// `passwd.byname` or `group.byname`; anything else is Postfix's "unknown table".
    pub fn open(name: &str, flags: OpenFlags) -> Result<UnixMap, MapError> {
        let kind = match name {
            "passwd.byname" => Kind::Passwd,
            "group.byname" => Kind::Group,
            _ => {
                return Err(MapError::UnknownTable {
                    table: format!("unix:{name}"),
                })
            }
        };
        Ok(UnixMap {
            spec: format!("unix:{name}"),
            kind,
            flags,
        })
    }
}

fn lossy(s: &std::ffi::CStr) -> String {
    s.to_string_lossy().into_owned()
}

impl Map for UnixMap {
    fn spec(&self) -> &str {
        &self.spec
    }

    fn lookup(&self, key: &str) -> Result<Option<String>, MapError> {
        let key = self.flags.fold_key(key);
        let failed = |e: nix::Error| MapError::Match {
            table: self.spec.clone(),
            key: key.to_string(),
            reason: e.desc().to_string(),
        };
        Ok(match self.kind {
            Kind::Passwd => User::from_name(&key).map_err(failed)?.map(|u| {
                format!(
                    "{}:{}:{}:{}:{}:{}:{}",
                    u.name,
                    lossy(&u.passwd),
                    u.uid,
                    u.gid,
                    lossy(&u.gecos),
                    u.dir.display(),
                    u.shell.display()
                )
            }),
            Kind::Group => Group::from_name(&key).map_err(failed)?.map(|g| {
                format!(
                    "{}:{}:{}:{}",
                    g.name,
                    lossy(&g.passwd),
                    g.gid,
                    g.mem.join(",")
                )
            }),
        })
    }
}

/// The host's NIS domain, `None` when not set (empty or "(none)").
fn nis_domain() -> Option<String> {
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: the buffer is valid for its length; getdomainname(2) writes at
    // most that many bytes and the last byte stays NUL.
    let rc = unsafe { libc::getdomainname(buf.as_mut_ptr(), buf.len() - 1) };
    if rc != 0 {
        return None;
    }
    let bytes: Vec<u8> = buf
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    let d = String::from_utf8_lossy(&bytes).into_owned();
    (!d.is_empty() && d != "(none)").then_some(d)
}

/// `nis:` on a host without a NIS domain: every lookup finds nothing.
pub struct NisMap {
    spec: String,
}

impl NisMap {
    /// Opens `nis:name`; unsupported when a NIS domain is actually configured.
    pub fn open(name: &str) -> Result<NisMap, MapError> {
        if nis_domain().is_some() {
            return Err(MapError::UnsupportedType { kind: "nis".into() });
        }
        log::warn!("dict_nis_init: NIS domain name not set - NIS lookups disabled");
        Ok(NisMap {
            spec: format!("nis:{name}"),
        })
    }
}

impl Map for NisMap {
    fn spec(&self) -> &str {
        &self.spec
    }

    fn lookup(&self, _key: &str) -> Result<Option<String>, MapError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_and_group_lines() {
        let m = UnixMap::open("passwd.byname", OpenFlags::default()).unwrap();
        let root = m.lookup("ROOT").unwrap().unwrap();
        assert!(
            root.starts_with("root:") && root.contains(":0:0:"),
            "{root}"
        );
        assert_eq!(m.lookup("no-such-user-postern").unwrap(), None);
        let g = UnixMap::open("group.byname", OpenFlags::default()).unwrap();
        assert!(g.lookup("root").unwrap().unwrap().starts_with("root:"));
        assert!(UnixMap::open("foo", OpenFlags::default()).is_err());
    }
}
