//! Address extensions (`user+ext`): where a local part splits at the first
//! `recipient_delimiter` character, for table look-ups without the extension
//! and for local delivery's `$extension`.
//!
//! Mirrors Postfix global/split_addr.c and the extension handling of
//! global/mail_addr_find.c. Reads no parameters: the caller builds a
//! [`Splitter`] from `recipient_delimiter`, `owner_request_special` and
//! `double_bounce_sender`.

/// How local parts split, with the settings split_addr.c reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Splitter {
    /// `recipient_delimiter`: any of its characters starts an extension;
    /// empty: nothing splits.
    pub delimiters: String,
    /// `owner_request_special`.
    pub owner_request_special: bool,
    /// `double_bounce_sender`, never split.
    pub double_bounce: String,
}

impl Splitter {
    pub fn new(delimiters: &str, owner_request_special: bool, double_bounce: &str) -> Splitter {
        Splitter {
            delimiters: delimiters.to_string(),
            owner_request_special,
            double_bounce: double_bounce.to_string(),
        }
    }

    /// Where `local` splits: the byte offset of the delimiter and the
    /// delimiter. `None` when it does not: no delimiter, a delimiter first,
    /// `postmaster`, `MAILER-DAEMON` and `double_bounce_sender` (never split),
    /// and, with `owner_request_special` when `-` is a delimiter, `owner-*`
    /// and `*-request` (mailing-list conventions a `-` delimiter would cut
    /// apart).
    pub fn split(&self, local: &str) -> Option<(usize, char)> {
        if self.delimiters.is_empty()
            || local.eq_ignore_ascii_case("postmaster")
            || local.eq_ignore_ascii_case("mailer-daemon")
            || (!self.double_bounce.is_empty() && local.eq_ignore_ascii_case(&self.double_bounce))
        {
            return None;
        }
        if self.owner_request_special && self.delimiters.contains('-') {
            let lower = local.to_ascii_lowercase();
            if lower.starts_with("owner-") || (lower.len() > 8 && lower.ends_with("-request")) {
                return None;
            }
        }
        let (pos, delimiter) = local
            .char_indices()
            .find(|(_, c)| self.delimiters.contains(*c))?;
        (pos > 0).then_some((pos, delimiter))
    }

    /// `local` up to its extension, when it has one.
    pub fn base<'a>(&self, local: &'a str) -> Option<&'a str> {
        self.split(local).map(|(i, _)| &local[..i])
    }

    /// `address` (`local@domain`, or a bare local part) without the
    /// extension of its local part, and the extension with its delimiter
    /// (`+ext`), when it has one.
    pub fn strip<'a>(&self, address: &'a str) -> Option<(String, &'a str)> {
        let (local, domain) = match address.rfind('@') {
            Some(at) => address.split_at(at),
            None => (address, ""),
        };
        let (pos, _) = self.split(local)?;
        Some((format!("{}{domain}", &local[..pos]), &local[pos..]))
    }
}

#[cfg(test)]
mod tests {
    use super::Splitter;

    #[test]
    fn splits_as_postfix_split_addr() {
        let s = |d: &str, owner: bool| Splitter::new(d, owner, "double-bounce");
        assert_eq!(s("+", true).split("bob+lists"), Some((3, '+')));
        assert_eq!(s("+-", true).split("bob-x+y"), Some((3, '-')));
        assert_eq!(s("+", true).split("bob"), None);
        assert_eq!(s("", true).split("bob+x"), None);
        assert_eq!(s("+", true).split("+x"), None);
        // Never split, whatever the delimiter.
        assert_eq!(s("-", true).split("MAILER-DAEMON"), None);
        assert_eq!(s("-", false).split("Postmaster"), None);
        assert_eq!(s("-", false).split("Double-Bounce"), None);
        assert_eq!(
            Splitter::new("-", false, "").split("double-bounce"),
            Some((6, '-'))
        );
        // List conventions stay whole only where `-` would cut them.
        assert_eq!(s("-", true).split("owner-list"), None);
        assert_eq!(s("-", true).split("List-Request"), None);
        assert_eq!(s("-", true).split("-request"), None, "delimiter first");
        assert_eq!(s("-", false).split("owner-list"), Some((5, '-')));
        assert_eq!(s("+", true).split("owner-list+x"), Some((10, '+')));
        assert_eq!(s("+", true).split("bü+x"), Some((3, '+')));
        assert_eq!(s("+", true).base("bob+x+y"), Some("bob"));
    }

    #[test]
    fn strip_keeps_the_domain_and_gives_the_extension_with_its_delimiter() {
        let s = Splitter::new("+.", true, "double-bounce");
        assert_eq!(
            s.strip("joe+foo@example.com"),
            Some(("joe@example.com".to_string(), "+foo"))
        );
        assert_eq!(s.strip("joe.x@a"), Some(("joe@a".to_string(), ".x")));
        assert_eq!(s.strip("joe+foo"), Some(("joe".to_string(), "+foo")));
        assert_eq!(s.strip("joe@example.com"), None);
        assert_eq!(s.strip("postmaster@example.com"), None);
    }
}
