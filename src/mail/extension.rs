//! Address extensions (`user+ext`): where a local part splits at the first
//! `recipient_delimiter` character, for table look-ups without the extension
//! and for local delivery's `$extension`.
//!
//! Mirrors Postfix global/split_addr.c. Reads no parameters: callers pass
//! `recipient_delimiter` and `owner_request_special`.

/// Where `local` splits: the byte offset of the delimiter and the delimiter.
/// `None` when it does not: no delimiter, a delimiter first, `postmaster` and
/// `MAILER-DAEMON` (never split), and, with `owner_request_special` when `-`
/// is a delimiter, `owner-*` and `*-request` (mailing-list conventions a `-`
/// delimiter would cut apart).
pub fn split_addr(
    local: &str,
    delimiters: &str,
    owner_request_special: bool,
) -> Option<(usize, char)> {
    if delimiters.is_empty()
        || local.eq_ignore_ascii_case("postmaster")
        || local.eq_ignore_ascii_case("mailer-daemon")
    {
        return None;
    }
    if owner_request_special && delimiters.contains('-') {
        let lower = local.to_ascii_lowercase();
        if lower.starts_with("owner-") || (lower.len() > 8 && lower.ends_with("-request")) {
            return None;
        }
    }
    let (pos, delimiter) = local
        .char_indices()
        .find(|(_, c)| delimiters.contains(*c))?;
    (pos > 0).then_some((pos, delimiter))
}

#[cfg(test)]
mod tests {
    use super::split_addr;

    #[test]
    fn splits_as_postfix_split_addr() {
        assert_eq!(split_addr("bob+lists", "+", true), Some((3, '+')));
        assert_eq!(split_addr("bob-x+y", "+-", true), Some((3, '-')));
        assert_eq!(split_addr("bob", "+", true), None);
        assert_eq!(split_addr("bob+x", "", true), None);
        assert_eq!(split_addr("+x", "+", true), None);
        // Never split, whatever the delimiter.
        assert_eq!(split_addr("MAILER-DAEMON", "-", true), None);
        assert_eq!(split_addr("Postmaster", "-", false), None);
        // List conventions stay whole only where `-` would cut them.
        assert_eq!(split_addr("owner-list", "-", true), None);
        assert_eq!(split_addr("List-Request", "-", true), None);
        assert_eq!(split_addr("-request", "-", true), None, "delimiter first");
        assert_eq!(split_addr("owner-list", "-", false), Some((5, '-')));
        assert_eq!(split_addr("owner-list+x", "+", true), Some((10, '+')));
        assert_eq!(split_addr("bü+x", "+", true), Some((3, '+')));
    }
}
