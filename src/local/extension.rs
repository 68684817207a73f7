//! The address extension of a local part as the local agent uses it:
//! `user+ext` -> `user`, `ext` and the delimiter that split them, where
//! [`Splitter::split`] cuts, and no extension with a `/` in it
//! (local/recipient.c). Reads nothing itself: the caller passes the
//! splitter built from `recipient_delimiter`, `owner_request_special` and
//! `double_bounce_sender`.

use crate::mail::extension::Splitter;

/// The local part before the split and the extension after it (see
/// [`Splitter::split`]); an extension with `/` is dropped with a warning
/// (recipient.c).
pub(super) fn split_extension(local: &str, split: &Splitter) -> (String, Option<String>, String) {
    let whole = (local.to_string(), None, String::new());
    let Some((pos, delim)) = split.split(local) else {
        return whole;
    };
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
    use crate::mail::extension::Splitter;

    fn split_extension_(
        local: &str,
        delimiters: &str,
        owner: bool,
    ) -> (String, Option<String>, String) {
        split_extension(local, &Splitter::new(delimiters, owner, "double-bounce"))
    }

    #[test]
    fn extensions_split_as_split_addr() {
        assert_eq!(
            split_extension_("bob+lists", "+", true),
            ("bob".into(), Some("lists".into()), "+".into())
        );
        assert_eq!(split_extension_("bob-x+y", "+-", true).0, "bob");
        assert_eq!(split_extension_("owner-list", "-", true).1, None);
        assert_eq!(split_extension_("list-request", "-", true).1, None);
        // Only `-` would cut the list conventions apart (split_addr.c).
        assert_eq!(
            split_extension_("owner-list+x", "+", true),
            ("owner-list".into(), Some("x".into()), "+".into())
        );
        assert_eq!(
            split_extension_("owner-list", "-", false).1,
            Some("list".into())
        );
        assert_eq!(split_extension_("postmaster", "+", true).1, None);
        assert_eq!(split_extension_("+x", "+", true).1, None);
        assert_eq!(split_extension_("a+b/c", "+", true).1, None);
        assert_eq!(split_extension_("bob", "", true).1, None);
    }
}
