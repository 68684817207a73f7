//! `$name` expansion of `forward_path` (and `command_execution_directory`) with the
//! recipient's attributes: `$home`, `${user}`, `${extension?value}`,
//! `${name:value}`, `${name?{value}}`.
//!
//! Mirrors Postfix local/local_expand.c on top of util/mac_expand.c: attribute values
//! are filtered (characters outside `forward_expansion_filter` become `_`), and a
//! path that references an undefined attribute outside a conditional is dropped,
//! which is how `$home/.forward${recipient_delimiter}${extension}` disappears for a
//! recipient without an extension. Reads `forward_expansion_filter` (passed in).

/// The attributes local(8) offers to `$name` expansion. An empty string is an
/// undefined attribute, as in Postfix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpandAttrs {
    /// `$home`: the recipient's home directory.
    pub home: String,
    /// `$user`: the recipient's login name.
    pub user: String,
    /// `$shell`: the recipient's login shell.
    pub shell: String,
    /// `$recipient`: the complete recipient address.
    pub recipient: String,
    /// `$extension`: the address extension.
    pub extension: String,
    /// `$domain`: the recipient domain.
    pub domain: String,
    /// `$local`: the whole local part.
    pub local: String,
    /// `$recipient_delimiter`: the delimiter that separated the extension.
    pub recipient_delimiter: String,
    /// `$mailbox`: the local part without extension.
    pub mailbox: String,
}

impl ExpandAttrs {
    fn get(&self, name: &str) -> Option<&str> {
        let value = match name {
            "home" => &self.home,
            "user" => &self.user,
            "shell" => &self.shell,
            "recipient" => &self.recipient,
            "extension" => &self.extension,
            "domain" => &self.domain,
            "local" => &self.local,
            "recipient_delimiter" => &self.recipient_delimiter,
            "mailbox" => &self.mailbox,
            _ => return None,
        };
        (!value.is_empty()).then_some(value.as_str())
    }
}

/// A template that cannot be parsed; local(8) defers with "mail system
/// configuration error" (4.3.5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("bad parameter value syntax in \"{template}\": {reason}")]
    Syntax {
        template: String,
        reason: &'static str,
    },
}

/// Default `forward_expansion_filter` and `command_expansion_filter`.
pub const DEFAULT_FILTER: &str =
    "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Expands `template`. `Ok(None)` means it referenced an undefined attribute
/// unconditionally and must be skipped.
pub fn expand(
    template: &str,
    attrs: &ExpandAttrs,
    filter: &str,
) -> Result<Option<String>, ExpandError> {
    let mut undefined = false;
    let out = expand_into(template, template, attrs, filter, &mut undefined)?;
    Ok((!undefined).then_some(out))
}

fn syntax(template: &str, reason: &'static str) -> ExpandError {
    ExpandError::Syntax {
        template: template.to_string(),
        reason,
    }
}

/// Expands `text` (a part of `template`, which is kept for error messages).
fn expand_into(
    template: &str,
    text: &str,
    attrs: &ExpandAttrs,
    filter: &str,
    undefined: &mut bool,
) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        let (name, op, value, after) = match rest.chars().next() {
            Some('$') => {
                out.push('$');
                rest = &rest[1..];
                continue;
            }
            Some(open @ ('{' | '(')) => {
                let close = if open == '{' { '}' } else { ')' };
                let end = matching(&rest[1..], open, close)
                    .ok_or_else(|| syntax(template, "unbalanced brackets"))?;
                let inner = &rest[1..1 + end];
                let after = &rest[2 + end..];
                let split = inner.find(['?', ':']);
                match split {
                    Some(i) => (
                        &inner[..i],
                        inner[i..].chars().next(),
                        &inner[i + 1..],
                        after,
                    ),
                    None => (inner, None, "", after),
                }
            }
            _ => {
                let len = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                if len == 0 {
                    return Err(syntax(template, "'$' without a name"));
                }
                (&rest[..len], None, "", &rest[len..])
            }
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(syntax(template, "bad attribute name"));
        }
        let value = strip_braces(value);
        match (op, attrs.get(name)) {
            (None, Some(v)) => {
                out.extend(v.chars().map(|c| if filter.contains(c) { c } else { '_' }))
            }
            (None, None) => *undefined = true,
            (Some('?'), Some(_)) | (Some(':'), None) => {
                out.push_str(&expand_into(template, value, attrs, filter, undefined)?);
            }
            _ => {}
        }
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

/// Position of the bracket closing an already opened one, in `s`.
fn matching(s: &str, open: char, close: char) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            if depth == 0 {
                return Some(i);
            }
            depth -= 1;
        }
    }
    None
}

/// `{value}` (Postfix 3.0 form) stands for `value`.
fn strip_braces(value: &str) -> &str {
    value
        .strip_prefix('{')
        .and_then(|v| v.strip_suffix('}'))
        .unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs() -> ExpandAttrs {
        ExpandAttrs {
            home: "/home/bob".into(),
            user: "bob".into(),
            local: "bob+lists".into(),
            extension: "lists".into(),
            recipient_delimiter: "+".into(),
            domain: "example.com".into(),
            ..Default::default()
        }
    }

    #[test]
    fn default_forward_path_with_and_without_extension() {
        let a = attrs();
        let t = "$home/.forward${recipient_delimiter}${extension}";
        assert_eq!(
            expand(t, &a, DEFAULT_FILTER).unwrap().as_deref(),
            Some("/home/bob/.forward+lists")
        );
        let mut b = attrs();
        b.extension.clear();
        b.recipient_delimiter.clear();
        assert_eq!(expand(t, &b, DEFAULT_FILTER).unwrap(), None);
        assert_eq!(
            expand("$home/.forward", &b, DEFAULT_FILTER)
                .unwrap()
                .as_deref(),
            Some("/home/bob/.forward")
        );
    }

    #[test]
    fn conditionals() {
        let a = attrs();
        let f = DEFAULT_FILTER;
        assert_eq!(
            expand("x${extension?-$extension}", &a, f)
                .unwrap()
                .as_deref(),
            Some("x-lists")
        );
        assert_eq!(
            expand("x${shell?{yes}}", &a, f).unwrap().as_deref(),
            Some("x")
        );
        assert_eq!(
            expand("x${shell:none}", &a, f).unwrap().as_deref(),
            Some("xnone")
        );
        assert_eq!(expand("$$${user}", &a, f).unwrap().as_deref(), Some("$bob"));
        assert!(expand("${user", &a, f).is_err());
    }

    #[test]
    fn values_are_filtered() {
        let mut a = attrs();
        a.extension = "a;rm -rf".into();
        assert_eq!(
            expand("$extension", &a, DEFAULT_FILTER).unwrap().as_deref(),
            Some("a_rm_-rf")
        );
    }
}
