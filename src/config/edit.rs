//! In-place main.cf edits for `postconf -e`, `-X` and `-#`, keeping every
//! comment, blank line and the order of entries.
//!
//! Mirrors Postfix postconf_edit.c: a changed entry is rewritten where it
//! stands (its continuation lines dropped), a new one is appended, `-X` removes
//! the entry with its continuation lines, `-#` puts `#` before each of its
//! lines. Reads no parameters.

/// One requested change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// `-e name=value`.
    Set(String, String),
    /// `-X name`.
    Remove(String),
    /// `-# name`.
    Comment(String),
}

impl Edit {
    fn name(&self) -> &str {
        match self {
            Edit::Set(n, _) | Edit::Remove(n) | Edit::Comment(n) => n,
        }
    }
}

/// Splits a `-e` argument `name = value` / `name=value`; the error is Postfix's
/// "missing '=' after attribute name" text.
pub fn parse_assignment(arg: &str) -> Result<(String, String), String> {
    let Some((name, value)) = arg.split_once('=') else {
        return Err(format!("missing '=' after attribute name: \"{arg}\""));
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("missing attribute name: \"{arg}\""));
    }
    if name.contains(char::is_whitespace) {
        return Err(format!("missing '=' after attribute name: \"{arg}\""));
    }
    Ok((name.to_string(), value.trim().to_string()))
}

/// The name a logical line starts with, if any.
fn entry_name(line: &str) -> Option<&str> {
    let (name, _) = line.split_once('=')?;
    let name = name.trim();
    (!name.is_empty()).then_some(name)
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#')
}

/// Applies `edits` to main.cf `text`; returns the new text and warnings (Postfix's
/// "multiple entries for" text, which names `path`).
pub fn apply(text: &str, edits: &[Edit], path: &str) -> (String, Vec<String>) {
    let mut out: Vec<String> = Vec::new();
    let mut warnings = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut current: Option<&Edit> = None;
    for line in text.lines() {
        if is_blank_or_comment(line) {
            out.push(line.to_string());
            continue;
        }
        if line.starts_with(|c: char| c.is_whitespace()) {
            match current {
                Some(Edit::Set(..)) | Some(Edit::Remove(_)) => {}
                Some(Edit::Comment(_)) => out.push(format!("#{line}")),
                None => out.push(line.to_string()),
            }
            continue;
        }
        current = entry_name(line).and_then(|n| edits.iter().find(|e| e.name() == n));
        match current {
            Some(e) => {
                let n = e.name().to_string();
                if seen.contains(&n)
                    && !warnings
                        .iter()
                        .any(|w: &String| w.ends_with(&format!("\"{n}\"")))
                {
                    warnings.push(format!("{path}: multiple entries for \"{n}\""));
                }
                seen.push(n);
                match e {
                    Edit::Set(n, v) => out.push(assignment(n, v)),
                    Edit::Remove(_) => {}
                    Edit::Comment(_) => out.push(format!("#{line}")),
                }
            }
            None => out.push(line.to_string()),
        }
    }
    for e in edits {
        if let Edit::Set(n, v) = e {
            if !seen.contains(n) {
                out.push(assignment(n, v));
                seen.push(n.clone());
            }
        }
    }
    let mut text = out.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    (text, warnings)
}

/// `name = value` as Postfix writes it (`name = ` with the space for an empty value).
fn assignment(name: &str, value: &str) -> String {
    format!("{name} = {value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n: &str, v: &str) -> Edit {
        Edit::Set(n.into(), v.into())
    }

    #[test]
    fn set_keeps_comments_and_order() {
        let text = "# top\nmyhostname = a.ex\n   cont\n# mid\nmydomain = ex\n\nrelayhost = x\n";
        let (t, w) = apply(
            text,
            &[
                set("myhostname", "b.ex"),
                set("relay_domains", "foo"),
                set("mydomain", ""),
            ],
            "main.cf",
        );
        assert_eq!(
            t,
            "# top\nmyhostname = b.ex\n# mid\nmydomain = \n\nrelayhost = x\nrelay_domains = foo\n"
        );
        assert!(w.is_empty());
    }

    #[test]
    fn multiple_entries_all_change() {
        let (t, w) = apply(
            "myhostname = a\n  cont\nmydomain = x\nmyhostname = b\nrelayhost = r",
            &[set("myhostname", "c")],
            "/p/main.cf",
        );
        assert_eq!(
            t,
            "myhostname = c\nmydomain = x\nmyhostname = c\nrelayhost = r\n"
        );
        assert_eq!(w, ["/p/main.cf: multiple entries for \"myhostname\""]);
    }

    #[test]
    fn remove_and_comment() {
        let text = "myhostname = a\n  cont\n# c\n\n  cont2\nmydomain = x\n";
        let (t, _) = apply(text, &[Edit::Remove("myhostname".into())], "m");
        assert_eq!(t, "# c\n\nmydomain = x\n");
        let (t, _) = apply(text, &[Edit::Comment("myhostname".into())], "m");
        assert_eq!(
            t,
            "#myhostname = a\n#  cont\n# c\n\n#  cont2\nmydomain = x\n"
        );
        let (t, _) = apply(text, &[Edit::Remove("nosuch".into())], "m");
        assert_eq!(t, text);
    }

    #[test]
    fn assignments() {
        assert_eq!(
            parse_assignment("a = b c ").unwrap(),
            ("a".into(), "b c".into())
        );
        assert_eq!(parse_assignment("a=").unwrap(), ("a".into(), "".into()));
        assert_eq!(
            parse_assignment("foo bar").unwrap_err(),
            "missing '=' after attribute name: \"foo bar\""
        );
    }
}
