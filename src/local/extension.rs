//! The address extension of a local part as the local agent uses it:
//! `user+ext` -> `user`, `ext` and the delimiter that split them, where
//! [`split_addr`] cuts, and no extension with a `/` in it (local/recipient.c).
//! Reads nothing itself: the caller passes `recipient_delimiter` and
//! `owner_request_special`.

use crate::mail::extension::split_addr;

/// The local part before the split and the extension after it (see
/// [`split_addr`]); an extension with `/` is dropped with a warning
/// (recipient.c).
pub(super) fn split_extension(
    local: &str,
    delimiters: &str,
    owner_special: bool,
) -> (String, Option<String>, String) {
    let whole = (local.to_string(), None, String::new());
    let Some((pos, delim)) = split_addr(local, delimiters, owner_special) else {
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
