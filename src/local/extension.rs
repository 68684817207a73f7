//! The address extension of a local part, as Postfix's split_addr()
//! (global/split_addr.c, used by local/recipient.c): `user+ext` -> `user`,
//! `ext` and the delimiter that split them. Reads nothing itself: the caller
//! passes `recipient_delimiter` and `owner_request_special`.

/// split_addr(): the local part before the first delimiter character, and the
/// extension after it. `postmaster` and `MAILER-DAEMON` are never split, nor
/// (with `owner_request_special`, when `-` is a delimiter) `owner-*` and
/// `*-request`; an extension with `/` is dropped with a warning (recipient.c).
pub(super) fn split_extension(
    local: &str,
    delimiters: &str,
    owner_special: bool,
) -> (String, Option<String>, String) {
    let whole = (local.to_string(), None, String::new());
    if delimiters.is_empty()
        || local == "postmaster"
        || local == "mailer-daemon"
        || (owner_special
            && delimiters.contains('-')
            && (local.starts_with("owner-") || local.ends_with("-request")))
    {
        return whole;
    }
    let Some((pos, delim)) = local.char_indices().find(|(_, c)| delimiters.contains(*c)) else {
        return whole;
    };
    if pos == 0 {
        return whole;
    }
    let ext = &local[pos + delim.len_utf8()..];
    if ext.contains('/') {
        log::warn!("address with illegal extension: {local}");
        return whole;
    }
    (
        local[..pos].to_string(),
        Some(ext.to_string()),
        delim.to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::split_extension;

    #[test]
    fn extensions_split_as_split_addr() {
        assert_eq!(
            split_extension("bob+lists", "+", true),
            ("bob".into(), Some("lists".into()), "+".into())
        );
        assert_eq!(split_extension("bob-x+y", "+-", true).0, "bob");
        assert_eq!(split_extension("owner-list", "-", true).1, None);
        assert_eq!(split_extension("list-request", "-", true).1, None);
        // Only `-` would cut the list conventions apart (split_addr.c).
        assert_eq!(
            split_extension("owner-list+x", "+", true),
            ("owner-list".into(), Some("x".into()), "+".into())
        );
        assert_eq!(
            split_extension("owner-list", "-", false).1,
            Some("list".into())
        );
        assert_eq!(split_extension("postmaster", "+", true).1, None);
        assert_eq!(split_extension("+x", "+", true).1, None);
        assert_eq!(split_extension("a+b/c", "+", true).1, None);
        assert_eq!(split_extension("bob", "", true).1, None);
    }
}
