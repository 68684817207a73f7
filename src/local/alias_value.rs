//! Splits the right-hand side of an alias, or one logical line of a `.forward` or
//! `:include:` file, into destinations: addresses, `|command`, `/file`,
//! `:include:/file` and `\user`.
//!
//! Follows aliases(5) and local(8) (Postfix local/token.c): elements are separated by
//! commas or white space outside double quotes, `"..."` quotes an element that
//! contains white space (`"|/usr/bin/vacation bob"`), `(comments)` are dropped,
//! `<address>` loses its brackets, and `\user` delivers to `user` without further
//! alias or `.forward` expansion. An unquoted `|command` runs to the next comma, so
//! `|/usr/bin/procmail -a x` also works. Reads no parameters.

use std::path::PathBuf;

/// One delivery target named by an alias value or `.forward` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A mail address. `literal` is set for `\user`: deliver without expanding the
    /// name through aliases or `.forward` again.
    Address { address: String, literal: bool },
    /// `|command`: pipe the message into the command.
    Command(String),
    /// `/path`: append to a file (or a Maildir when the path ends in `/`).
    File(PathBuf),
    /// `~/path`: a file under the home directory of the user whose `.forward` or
    /// alias this is (token.c); resolve with [`Destination::home_file`].
    HomeFile(PathBuf),
    /// `:include:/path`: read more destinations from a file.
    Include(PathBuf),
}

impl Destination {
    /// The absolute file a [`Destination::HomeFile`] names for a user whose home
    /// directory is `home` (a home of `/` gives `/path`, as token.c does).
    pub fn home_file(relative: &std::path::Path, home: &std::path::Path) -> PathBuf {
        home.join(relative)
    }
}

/// An alias value that cannot be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliasValueError {
    #[error("unbalanced quote in alias value: {value}")]
    Quote { value: String },
    #[error("unbalanced parenthesis or bracket in alias value: {value}")]
    Bracket { value: String },
    #[error("bad home directory syntax for: {token}")]
    HomeSyntax { token: String },
    #[error("empty :include: file name in alias value: {value}")]
    EmptyInclude { value: String },
}

/// Splits `value` into destinations, in order.
pub fn parse_value(value: &str) -> Result<Vec<Destination>, AliasValueError> {
    tokens(value)?
        .into_iter()
        .map(|t| classify(t, value))
        .collect()
}

/// A raw element, quotes removed when they enclosed all of it.
struct Token {
    text: String,
}

fn tokens(value: &str) -> Result<Vec<Token>, AliasValueError> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    let mut text = String::new();
    let mut quoted_part = false;
    let mut unquoted_part = false;
    let finish = |text: &mut String, q: &mut bool, u: &mut bool, out: &mut Vec<Token>| {
        if !text.is_empty() || *q {
            out.push(Token {
                text: std::mem::take(text),
            });
        }
        *q = false;
        *u = false;
    };
    while let Some(c) = chars.next() {
        match c {
            ',' => finish(&mut text, &mut quoted_part, &mut unquoted_part, &mut out),
            c if c.is_whitespace() => {
                // An unquoted command keeps its arguments up to the next comma.
                if text.starts_with('|') && !quoted_part {
                    text.push(c);
                } else {
                    finish(&mut text, &mut quoted_part, &mut unquoted_part, &mut out);
                }
            }
            '"' => {
                quoted_part = true;
                let mut closed = false;
                let mut inner = String::new();
                while let Some(q) = chars.next() {
                    match q {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => {
                            if let Some(n) = chars.next() {
                                inner.push(n);
                            }
                        }
                        other => inner.push(other),
                    }
                }
                if !closed {
                    return Err(AliasValueError::Quote {
                        value: value.to_string(),
                    });
                }
                if text.is_empty() && !unquoted_part {
                    text = inner;
                } else {
                    // A quoted local part such as "john doe"@example.com stays quoted.
                    unquoted_part = true;
                    text.push_str(&requote(&inner));
                }
            }
            '(' => skip_comment(&mut chars).ok_or_else(|| AliasValueError::Bracket {
                value: value.to_string(),
            })?,
            '<' | '>' => {
                // <address>: the brackets only delimit the address.
                if quoted_part {
                    unquoted_part = true;
                }
            }
            ')' => {
                return Err(AliasValueError::Bracket {
                    value: value.to_string(),
                })
            }
            other => {
                if quoted_part && !unquoted_part {
                    // "john doe"@example.com: the leading quotes were part of an
                    // address after all, so put them back.
                    text = requote(&text);
                    unquoted_part = true;
                }
                text.push(other);
            }
        }
    }
    if text.starts_with('|') {
        let trimmed = text.trim_end().to_string();
        text = trimmed;
    }
    finish(&mut text, &mut quoted_part, &mut unquoted_part, &mut out);
    Ok(out)
}

/// `"text"` with `\\` and `"` escaped again.
fn requote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Skips a `(comment)`, nested ones included; `None` if it never closes.
fn skip_comment(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<()> {
    let mut depth = 1;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(());
                }
            }
            _ => {}
        }
    }
    None
}

fn classify(token: Token, value: &str) -> Result<Destination, AliasValueError> {
    let text = token.text;
    if let Some(command) = text.strip_prefix('|') {
        return Ok(Destination::Command(command.trim_end().to_string()));
    }
    if text.starts_with('/') {
        return Ok(Destination::File(PathBuf::from(text)));
    }
    if let Some(rest) = text.strip_prefix('~') {
        // token.c allows ~/path only; ~user/path is refused.
        return match rest.strip_prefix('/') {
            Some(path) => Ok(Destination::HomeFile(PathBuf::from(path))),
            None => Err(AliasValueError::HomeSyntax { token: text }),
        };
    }
    // `get` rather than slicing: the first nine bytes may end inside a character.
    if let Some(path) = text
        .get(..9)
        .filter(|head| head.eq_ignore_ascii_case(":include:"))
        .and_then(|_| text.get(9..))
    {
        let path = path.trim();
        if path.is_empty() {
            return Err(AliasValueError::EmptyInclude {
                value: value.to_string(),
            });
        }
        return Ok(Destination::Include(PathBuf::from(path)));
    }
    if let Some(user) = text.strip_prefix('\\') {
        return Ok(Destination::Address {
            address: user.to_string(),
            literal: true,
        });
    }
    Ok(Destination::Address {
        address: text,
        literal: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(a: &str) -> Destination {
        Destination::Address {
            address: a.into(),
            literal: false,
        }
    }

    #[test]
    fn lists_with_commas_and_spaces() {
        let d = parse_value("alice, bob@example.com  carol,,<dave@x.org> (Dave)").unwrap();
        assert_eq!(
            d,
            vec![
                addr("alice"),
                addr("bob@example.com"),
                addr("carol"),
                addr("dave@x.org")
            ]
        );
    }

    #[test]
    fn commands_files_includes_and_literal_users() {
        let d = parse_value(
            "\\bob, \"|/usr/bin/vacation bob\", |/usr/bin/procmail -a x, /var/log/mail.copy, :include:/etc/mail/staff, \"/tmp/my file\", ~/Mail/inbox",
        )
        .unwrap();
        assert_eq!(
            d,
            vec![
                Destination::Address {
                    address: "bob".into(),
                    literal: true
                },
                Destination::Command("/usr/bin/vacation bob".into()),
                Destination::Command("/usr/bin/procmail -a x".into()),
                Destination::File("/var/log/mail.copy".into()),
                Destination::Include("/etc/mail/staff".into()),
                Destination::File("/tmp/my file".into()),
                Destination::HomeFile("Mail/inbox".into()),
            ]
        );
    }

    #[test]
    fn non_ascii_near_the_start_is_an_address() {
        let d = parse_value("jörg@example.de, ü").unwrap();
        assert_eq!(d, vec![addr("jörg@example.de"), addr("ü")]);
    }

    #[test]
    fn quoted_local_part_stays_an_address() {
        let d = parse_value("\"john doe\"@example.com").unwrap();
        assert_eq!(d, vec![addr("\"john doe\"@example.com")]);
    }

    #[test]
    fn errors_name_the_value() {
        assert!(matches!(
            parse_value("\"|cmd"),
            Err(AliasValueError::Quote { .. })
        ));
        assert!(matches!(
            parse_value("a (x"),
            Err(AliasValueError::Bracket { .. })
        ));
        assert!(matches!(
            parse_value("~carol/mbox"),
            Err(AliasValueError::HomeSyntax { .. })
        ));
        assert!(matches!(
            parse_value(":include:"),
            Err(AliasValueError::EmptyInclude { .. })
        ));
    }
}
